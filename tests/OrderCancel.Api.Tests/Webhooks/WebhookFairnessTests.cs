using System.Globalization;
using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The outbox takes turns (SPEC §9): one partner recovering 50,000 deliveries to five endpoints whose receiver
/// answers after 2 s holds only those endpoints' slots. Another partner's fresh events still arrive within 2 s, and the
/// backlog drains as fast as its endpoints allow (endpoints × <c>Webhooks:EndpointConcurrency</c> per 2 s), no faster.
/// </summary>
public sealed class WebhookFairnessTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int SlowEndpoints = 5;
    private const int EventsPerEndpoint = 10_000;
    private const int EndpointConcurrency = 4;
    private const int FreshEvents = 100;
    private static readonly TimeSpan SlowAnswer = TimeSpan.FromSeconds(2);

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Webhooks__AllowInsecureLoopback"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.100",
        ["Webhooks__EndpointConcurrency"] = EndpointConcurrency.ToString(CultureInfo.InvariantCulture),
        ["Database__MigrateOnStartup"] = "false",
    };

    [Fact]
    public async Task A_partners_recovery_to_slow_endpoints_neither_delays_another_partners_fresh_events_nor_drains_faster_than_its_endpoints_allow()
    {
        await using var slow = await WebhookReceiver.StartAsync((_, _) => new WebhookReceiver.Answer(HttpStatusCode.OK, Delay: SlowAnswer));
        await using var fast = await WebhookReceiver.StartAsync();
        var recovering = await database.NewPartnerAsync();
        var other = await database.NewPartnerAsync();
        var since = DateTimeOffset.UtcNow.AddHours(-2);
        // The missed events, written before the endpoints exist (so only the recovery queues them), a millisecond apart.
        await Sql.ExecuteAsync(
            database.ConnectionString,
            """
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            SELECT gen_random_uuid(), @partner, NULL, 'partner.settings_changed', now() - interval '1 hour' + i * interval '1 millisecond', 'test', '{}'
            FROM generate_series(1, @count) i
            """,
            ("partner", recovering.Id),
            ("count", EventsPerEndpoint));

        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var recoveringClient = service.Client(recovering.Key);
        var endpoints = new List<Guid>();
        for (var i = 0; i < SlowEndpoints; i++)
        {
            endpoints.Add(await RegisterAsync(recoveringClient, slow.Url));
        }

        await RegisterAsync(service.Client(other.Key), fast.Url);
        var queued = 0;
        foreach (var endpoint in endpoints)
        {
            var recovered = await (await recoveringClient.PostAsync(
                $"/v1/webhooks/{endpoint}/recover",
                Requests.Json($$"""{"since":"{{since.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}}"}"""))).ShouldBeAsync(HttpStatusCode.Accepted);
            queued += recovered.GetProperty("queued").GetInt32();
        }

        Assert.Equal(SlowEndpoints * EventsPerEndpoint, queued);

        // Once the slow receiver is busy, the other partner's events are written one every 50 ms while the backlog drains.
        await slow.WaitForAsync(r => r.Count >= SlowEndpoints * EndpointConcurrency);
        var windowStart = DateTimeOffset.UtcNow;
        var drainedBefore = slow.Received.Count;
        var written = new Dictionary<string, DateTimeOffset>();
        for (var i = 0; i < FreshEvents; i++)
        {
            var id = Guid.NewGuid();
            await Sql.ExecuteAsync(
                database.ConnectionString,
                """
                INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
                VALUES (@id, @partner, NULL, 'partner.settings_changed', now(), 'test', '{}')
                """,
                ("id", id),
                ("partner", other.Id));
            written[id.ToString()] = DateTimeOffset.UtcNow;
            await Task.Delay(50);
        }

        var deadline = DateTimeOffset.UtcNow.AddSeconds(5);
        while (DateTimeOffset.UtcNow < deadline && fast.Received.Select(r => r.Id).Distinct().Count() < FreshEvents)
        {
            await Task.Delay(100);
        }

        var window = DateTimeOffset.UtcNow - windowStart;
        var drained = slow.Received.Count - drainedBefore;

        // An event that never arrived counts as arriving at the end of time.
        var arrivals = fast.Received.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.Min(r => r.ArrivedAt));
        var latencies = written
            .Select(w => arrivals.TryGetValue(w.Key, out var arrived) ? arrived - w.Value : TimeSpan.MaxValue)
            .Order()
            .ToList();
        var p99 = latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
        Assert.True(
            p99 <= TimeSpan.FromSeconds(2),
            $"The other partner's fresh events: p99 {(p99 == TimeSpan.MaxValue ? "never arrived" : $"{p99.TotalMilliseconds:0} ms")}, "
            + $"{latencies.Count(l => l == TimeSpan.MaxValue)} of {FreshEvents} missing, median "
            + $"{(latencies[latencies.Count / 2] == TimeSpan.MaxValue ? "never" : $"{latencies[latencies.Count / 2].TotalMilliseconds:0} ms")}.");

        var expected = SlowEndpoints * EndpointConcurrency / SlowAnswer.TotalSeconds * window.TotalSeconds;
        Assert.True(
            drained >= expected * 0.5 && drained <= expected * 1.25,
            $"The backlog drained {drained} deliveries in {window.TotalSeconds:0.0} s; its endpoints allow about {expected:0}.");
        Assert.InRange(slow.MostAtOnce, 1, SlowEndpoints * EndpointConcurrency);
    }

    private static async Task<Guid> RegisterAsync(HttpClient client, string url)
    {
        var created = await (await client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{url}}","events":["*"]}"""))).ShouldBeAsync(HttpStatusCode.Created);
        return created.GetProperty("id").GetGuid();
    }
}
