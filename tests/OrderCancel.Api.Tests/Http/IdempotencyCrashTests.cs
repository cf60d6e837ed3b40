using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A service process under a load of idempotent mutations is killed with SIGKILL, restarted, and every request is
/// sent again with its key: each change happened exactly once, and each retry got the first answer or a first run.
/// </summary>
public sealed class IdempotencyCrashTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int Creates = 120;
    private const int CancelledOrders = 40;
    private const int CancelsPerOrder = 3;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["RateLimiting__PermitsPerSecond"] = "100000",
    };

    [Fact]
    public async Task After_a_kill_9_under_load_every_retried_request_has_changed_things_exactly_once()
    {
        var partner = await database.NewPartnerAsync();
        var orders = new List<long>();
        for (var i = 0; i < CancelledOrders; i++)
        {
            orders.Add((await partner.Client.CreateOrderAsync(NewOrder(lines: [Line("SKU-K", 10, 2.00m)]))).Id());
        }

        var lineIds = await database.WithDbAsync(db => db.Orders.Where(o => orders.Contains(o.Id))
            .ToDictionaryAsync(o => o.Id, o => o.Lines.Single().Id));
        List<Call> calls = [];
        for (var i = 0; i < Creates; i++)
        {
            var order = NewOrder();
            order["customer"]!["ref"] = $"crash-{i}";
            calls.Add(new Call($"create-{i}", "/v1/orders", order.ToJsonString()));
        }

        foreach (var order in orders)
        {
            for (var n = 0; n < CancelsPerOrder; n++)
            {
                calls.Add(new Call($"cancel-{order}-{n}", $"/v1/orders/{order}/cancel",
                    $$"""{"reason":"customer_request","items":[{"line_id":{{lineIds[order]}},"quantity":1}]}"""));
            }
        }

        calls = [.. calls.OrderBy(_ => Random.Shared.Next())];
        var first = new ConcurrentDictionary<string, Answer>();
        using (var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings))
        {
            var client = service.Client(partner.Key);
            var answered = 0;
            var load = SendAllAsync(client, calls, first, () => Interlocked.Increment(ref answered));
            await Eventually.TrueAsync(() => Volatile.Read(ref answered) >= calls.Count / 3, () => "The load never got going.");
            service.Kill();
            await load;
        }

        Assert.True(first.Count < calls.Count, "The kill came after every request had its answer; nothing was tested.");
        var retried = new ConcurrentDictionary<string, Answer>();
        using (var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings))
        {
            await SendAllAsync(service.Client(partner.Key), calls, retried, () => 0);
        }

        Assert.Equal(calls.Count, retried.Count);
        foreach (var call in calls)
        {
            var again = retried[call.Key];
            Assert.True(again.Status is HttpStatusCode.Created or HttpStatusCode.OK, $"{call.Key}: retry answered {(int)again.Status} {again.Body}");
            if (first.TryGetValue(call.Key, out var original))
            {
                Assert.True(again.Replayed, $"{call.Key}: answered before the kill, so the retry must replay it.");
                Assert.Equal(original.Status, again.Status);
                Assert.Equal(original.Body, again.Body);
            }
        }

        var createdIds = await database.WithDbAsync(db => db.Orders
            .Where(o => o.PartnerId == partner.Id && o.Customer.Ref.StartsWith("crash-"))
            .Select(o => new { o.Id, o.Customer.Ref })
            .ToListAsync());
        for (var i = 0; i < Creates; i++)
        {
            var created = Assert.Single(createdIds, o => o.Ref == $"crash-{i}");
            var answer = JsonDocument.Parse(retried[$"create-{i}"].Body).RootElement;
            Assert.Equal(created.Id, answer.GetProperty("id").GetInt64());
        }

        foreach (var order in orders)
        {
            var state = await database.StateAsync(order);
            Assert.Equal($"{CancelsPerOrder}", state.CancelledQuantities);
            Assert.Equal(
                string.Join(",", ["order.created", .. Enumerable.Repeat("order.partially_cancelled", CancelsPerOrder)]),
                state.Events);
        }
    }

    private static async Task SendAllAsync(HttpClient client, List<Call> calls, ConcurrentDictionary<string, Answer> answers, Func<int> onAnswer)
    {
        var queue = new ConcurrentQueue<Call>(calls);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (queue.TryDequeue(out var call))
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, call.Path) { Content = Requests.Json(call.Body) };
                request.Headers.Add(Idempotency.Header, call.Key);
                try
                {
                    using var response = await client.SendAsync(request);
                    answers[call.Key] = new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Contains("Idempotent-Replayed"));
                    onAnswer();
                }
                catch (HttpRequestException)
                {
                    // The service died with this request in flight; its answer is lost.
                }
            }
        }));
    }

    private sealed record Call(string Key, string Path, string Body);

    private sealed record Answer(HttpStatusCode Status, string Body, bool Replayed);
}
