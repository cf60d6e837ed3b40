using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What a partner can put in the shared outbox is bounded: endpoints per partner, deliveries per recovery
/// call (with <c>next_since</c> to continue) and pending deliveries per endpoint, re-sent successes included. The
/// dispatcher here never polls, so what recovery queued stays pending.
/// </summary>
public sealed class WebhookLimitTests(WebhookLimitTests.SmallLimits api) : IClassFixture<WebhookLimitTests.SmallLimits>
{
    public sealed class SmallLimits : ApiFactory
    {
        public const int PerRecovery = 3;
        public const int PendingPerEndpoint = 8;
        public const int EndpointsPerPartner = 2;

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Webhooks:PollInterval"] = "01:00:00",
            ["Webhooks:MaxDeliveriesPerRecovery"] = PerRecovery.ToString(CultureInfo.InvariantCulture),
            ["Webhooks:MaxPendingPerEndpoint"] = PendingPerEndpoint.ToString(CultureInfo.InvariantCulture),
            ["Webhooks:MaxEndpointsPerPartner"] = EndpointsPerPartner.ToString(CultureInfo.InvariantCulture),
        };
    }

    [Fact]
    public async Task A_partner_at_its_endpoint_limit_is_refused_with_webhook_endpoint_limit_reached_until_it_deletes_one()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        var (first, _) = await WebhookTests.RegisterAsync(partner, "https://partner.example/a", "*");
        await WebhookTests.RegisterAsync(partner, "https://partner.example/b", "*");

        var refused = await partner.Client.PostAsync("/v1/webhooks", Requests.Json("""{"url":"https://partner.example/c","events":["*"]}"""));

        var problem = await refused.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "webhook_endpoint_limit_reached");
        Assert.Contains("2", problem.GetProperty("detail").GetString());
        Assert.Equal(SmallLimits.EndpointsPerPartner, await api.WithDbAsync(db => db.WebhookEndpoints.CountAsync(w => w.PartnerId == partner.Id)));
        await WebhookTests.RegisterAsync(other, "https://partner.example/other", "*"); // another partner's count is its own
        await (await partner.Client.DeleteAsync($"/v1/webhooks/{first}")).ShouldBeAsync(HttpStatusCode.NoContent);
        await WebhookTests.RegisterAsync(partner, "https://partner.example/c", "*");
    }

    [Fact]
    public async Task Concurrent_registrations_never_pass_the_endpoint_limit()
    {
        var partner = await api.NewPartnerAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            partner.Client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"https://partner.example/{{i}}","events":["*"]}"""))));

        Assert.Equal(SmallLimits.EndpointsPerPartner, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            await refused.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "webhook_endpoint_limit_reached");
        }

        Assert.Equal(SmallLimits.EndpointsPerPartner, await api.WithDbAsync(db => db.WebhookEndpoints.CountAsync(w => w.PartnerId == partner.Id)));
    }

    [Fact]
    public async Task Recovery_queues_at_most_the_cap_per_call_and_next_since_queues_the_rest_each_event_once()
    {
        var partner = await api.NewPartnerAsync();
        var events = await MissedEventsAsync(partner, 7);
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, "https://partner.example/hooks", "*");
        var until = Instant(DateTimeOffset.UtcNow.AddSeconds(1));

        var first = await RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(events[0].OccurredAt)}}","until":"{{until}}"}""");
        var second = await RecoverAsync(partner, endpointId, $$"""{"since":"{{NextSince(first)}}","until":"{{until}}"}""");
        var third = await RecoverAsync(partner, endpointId, $$"""{"since":"{{NextSince(second)}}","until":"{{until}}"}""");

        Assert.Equal([3, 3, 1], new[] { first, second, third }.Select(a => a.GetProperty("queued").GetInt32()));
        Assert.Equal(events[3].OccurredAt, first.GetProperty("next_since").GetDateTimeOffset());
        Assert.Equal(events[6].OccurredAt, second.GetProperty("next_since").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, third.GetProperty("next_since").ValueKind);
        var queued = await api.WithDbAsync(db => db.WebhookDeliveries.Where(d => d.EndpointId == endpointId).Select(d => d.EventId).ToListAsync());
        Assert.Equal(events.Select(e => e.Id).Order(), queued.Order());
    }

    [Fact]
    public async Task An_endpoint_at_its_pending_limit_refuses_recovery_with_pending_delivery_limit_reached_but_still_gets_live_events_and_resent_successes_count()
    {
        var partner = await api.NewPartnerAsync();
        var events = await MissedEventsAsync(partner, 10);
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, "https://partner.example/hooks", "*");
        var since = Instant(events[0].OccurredAt);
        var until = Instant(DateTimeOffset.UtcNow.AddSeconds(1));

        var answers = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            answers.Add(await RecoverAsync(partner, endpointId, $$"""{"since":"{{(i == 0 ? since : NextSince(answers[^1]))}}","until":"{{until}}"}"""));
        }

        // 3 + 3, then only the 2 the pending cap leaves room for: the call says where the rest begins.
        Assert.Equal([3, 3, 2], answers.Select(a => a.GetProperty("queued").GetInt32()));
        Assert.Equal(events[8].OccurredAt, answers[2].GetProperty("next_since").GetDateTimeOffset());
        var full = await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json($$"""{"since":"{{NextSince(answers[2])}}","until":"{{until}}"}"""));
        await full.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "pending_delivery_limit_reached");
        Assert.Equal(SmallLimits.PendingPerEndpoint, await PendingAsync(endpointId));

        // A live event is never lost to the cap: the trigger queues it beyond it.
        await InsertEventAsync(partner, DateTimeOffset.UtcNow);
        Assert.Equal(SmallLimits.PendingPerEndpoint + 1, await PendingAsync(endpointId));

        // Once sent, re-sending the successes counts against both caps as any recovery does.
        await api.WithDbAsync(db => db.WebhookDeliveries.Where(d => d.EndpointId == endpointId)
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.Status, DeliveryStatus.Succeeded).SetProperty(d => d.NextAttemptAt, (DateTimeOffset?)null)));
        var resent = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            resent.Add(await RecoverAsync(partner, endpointId, $$"""{"since":"{{(i == 0 ? since : NextSince(resent[^1]))}}","until":"{{until}}","include_succeeded":true}"""));
        }

        Assert.Equal([3, 3, 2], resent.Select(a => a.GetProperty("queued").GetInt32()));
        await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json($$"""{"since":"{{NextSince(resent[2])}}","until":"{{until}}","include_succeeded":true}""")))
            .ShouldBeProblemAsync(HttpStatusCode.BadRequest, "pending_delivery_limit_reached");
        var pendingEvents = await api.WithDbAsync(db => db.WebhookDeliveries
            .Where(d => d.EndpointId == endpointId && d.Status == DeliveryStatus.Pending).Select(d => d.EventId).ToListAsync());
        Assert.Equal(events.Take(8).Select(e => e.Id).Order(), pendingEvents.Order());
    }

    /// <summary>Events of the partner written before its endpoint exists, a millisecond apart, oldest first.</summary>
    private async Task<List<(Guid Id, DateTimeOffset OccurredAt)>> MissedEventsAsync(TestPartner partner, int count)
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-10);
        var start = new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero); // as PostgreSQL keeps it
        var events = new List<(Guid, DateTimeOffset)>();
        for (var i = 0; i < count; i++)
        {
            var at = start.AddMilliseconds(i);
            events.Add((await InsertEventAsync(partner, at), at));
        }

        return events;
    }

    private async Task<Guid> InsertEventAsync(TestPartner partner, DateTimeOffset at)
    {
        var id = Guid.NewGuid();
        await Sql.ExecuteAsync(
            api.ConnectionString,
            """
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            VALUES (@id, @partner, NULL, 'partner.settings_changed', @at, 'test', '{}')
            """,
            ("id", id),
            ("partner", partner.Id),
            ("at", at));
        return id;
    }

    private Task<int> PendingAsync(Guid endpointId) =>
        api.WithDbAsync(db => db.WebhookDeliveries.CountAsync(d => d.EndpointId == endpointId && d.Status == DeliveryStatus.Pending));

    private static async Task<JsonElement> RecoverAsync(TestPartner partner, Guid endpointId, string body) =>
        await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json(body))).ShouldBeAsync(HttpStatusCode.Accepted);

    private static string NextSince(JsonElement answer) => Instant(answer.GetProperty("next_since").GetDateTimeOffset());

    private static string Instant(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
