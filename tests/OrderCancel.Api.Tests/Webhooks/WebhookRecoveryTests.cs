using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §12: POST /v1/webhooks/{id}/recover and /enable, against a real receiver.</summary>
[Collection(SharedApi.Name)]
public sealed class WebhookRecoveryTests(ApiFactory api)
{
    [Fact]
    public async Task Recovery_sends_what_the_endpoint_missed_with_the_original_ids_and_skips_what_it_received_unless_asked()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var missed = await CancelledOrderAsync(partner);
        var missedEvent = await CancelEventIdAsync(missed);
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, receiver.Url, "order.cancelled");
        var delivered = await CancelledOrderAsync(partner);
        await receiver.WaitForAsync(r => r.Count >= 1);

        var recovered = await RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(since)}}"}""");
        await receiver.WaitForAsync(r => r.Count >= 2);
        var again = await RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(since)}}"}""");
        var everything = await RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(since)}}","include_succeeded":true}""");
        var received = await receiver.WaitForAsync(r => r.Count >= 4);

        Assert.Equal(1, recovered.GetProperty("queued").GetInt32());
        Assert.Equal(0, again.GetProperty("queued").GetInt32());
        Assert.Equal(2, everything.GetProperty("queued").GetInt32());
        Assert.Equal(missedEvent.ToString(), received[1].Id);
        // Queued oldest first, but sent side by side, so they may arrive in either order.
        Assert.Equal(new[] { missedEvent.ToString(), (await CancelEventIdAsync(delivered)).ToString() }.Order(), received.Skip(2).Select(r => r.Id).Order());
        Assert.All(received, r => Assert.Equal(r.Id, JsonDocument.Parse(r.Body).RootElement.GetProperty("id").GetString()));
        Assert.All(received, r => Assert.Equal("order.cancelled", JsonDocument.Parse(r.Body).RootElement.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task Recovery_keeps_to_the_window_and_the_endpoints_types()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var first = await CancelledOrderAsync(partner);
        var second = await CancelledOrderAsync(partner);
        await CancelledOrderAsync(partner);
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, receiver.Url, "order.cancelled");
        var from = await OccurredAtAsync(await CancelEventIdAsync(second));

        var window = await RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(from)}}","until":"{{Instant(from.AddTicks(10))}}"}""");
        var received = await receiver.WaitForAsync(r => r.Count >= 1);

        Assert.Equal(1, window.GetProperty("queued").GetInt32());
        Assert.Equal((await CancelEventIdAsync(second)).ToString(), Assert.Single(received).Id);
        Assert.NotEqual((await CancelEventIdAsync(first)).ToString(), received[0].Id);
        Assert.Equal(1, await api.WithDbAsync(db => db.WebhookDeliveries.CountAsync(d => d.EndpointId == endpointId)));
    }

    [Fact]
    public async Task A_disabled_endpoint_recovers_only_once_enabled_again_and_enabling_resets_it()
    {
        var gone = true;
        await using var receiver = await WebhookReceiver.StartAsync((_, _) => new WebhookReceiver.Answer(gone ? HttpStatusCode.Gone : HttpStatusCode.OK));
        var partner = await api.NewPartnerAsync();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, receiver.Url, "*");
        await partner.Client.CreateOrderAsync();
        await Eventually.TrueAsync(async () => !await EnabledAsync(partner, endpointId), () => "The 410 did not disable the endpoint.");
        await partner.Client.CreateOrderAsync(); // not queued: the endpoint is disabled

        var refused = await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json($$"""{"since":"{{Instant(since)}}"}"""));
        await refused.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "endpoint_disabled");
        Assert.Equal(1, await api.WithDbAsync(db => db.WebhookDeliveries.CountAsync(d => d.EndpointId == endpointId)));

        gone = false;
        var enabled = await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/enable", null)).ShouldBeAsync(HttpStatusCode.OK);
        var recovered = await RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(since)}}"}""");

        Assert.True(enabled.GetProperty("enabled").GetBoolean());
        Assert.True(await EnabledAsync(partner, endpointId));
        Assert.Equal(2, recovered.GetProperty("queued").GetInt32());
        var received = await receiver.WaitForAsync(r => r.Select(x => x.Id).Distinct().Count() >= 2);
        Assert.Equal(2, received.Select(r => r.Id).Distinct().Count());
        await partner.Client.CreateOrderAsync();
        await receiver.WaitForAsync(r => r.Select(x => x.Id).Distinct().Count() >= 3);
    }

    [Fact]
    public async Task Concurrent_recoveries_of_one_endpoint_queue_each_event_once()
    {
        var partner = await api.NewPartnerAsync();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        for (var i = 0; i < 20; i++)
        {
            await CancelledOrderAsync(partner);
        }

        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, "https://partner.example/hooks", "order.cancelled");

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => RecoverAsync(partner, endpointId, $$"""{"since":"{{Instant(since)}}"}""")));

        Assert.Equal(20, answers.Sum(a => a.GetProperty("queued").GetInt32()));
        var perEvent = await api.WithDbAsync(db => db.WebhookDeliveries.Where(d => d.EndpointId == endpointId).GroupBy(d => d.EventId).Select(g => g.Count()).ToListAsync());
        Assert.Equal(20, perEvent.Count);
        Assert.All(perEvent, count => Assert.Equal(1, count));
    }

    [Theory]
    [InlineData("{}", "since")]
    [InlineData("""{"since":"2030-01-02T00:00:00Z","until":"2030-01-01T00:00:00Z"}""", "until")]
    [InlineData("""{"since":"2030-01-02T00:00:00"}""", "since")]
    [InlineData("""{"since":"2030-01-02T00:00:00Z","include_succeeded":"yes"}""", "include_succeeded")]
    [InlineData("""{"since":"2030-01-02T00:00:00Z","sinse":"2030-01-02T00:00:00Z"}""", "sinse")]
    public async Task A_malformed_recovery_is_422_and_queues_nothing(string body, string property)
    {
        var partner = await api.NewPartnerAsync();
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, "https://partner.example/hooks", "*");

        await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json(body))).ShouldBeValidationProblemAsync(property);

        Assert.Equal(0, await api.WithDbAsync(db => db.WebhookDeliveries.CountAsync(d => d.EndpointId == endpointId)));
    }

    [Fact]
    public async Task Another_partners_endpoint_cannot_be_recovered_or_enabled()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        await other.Client.CreateOrderAsync();
        var (endpointId, _) = await WebhookTests.RegisterAsync(other, "https://partner.example/hooks", "*");

        await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json("""{"since":"2000-01-01T00:00:00Z"}""")))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/enable", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");

        Assert.Equal(0, await api.WithDbAsync(db => db.WebhookDeliveries.CountAsync(d => d.EndpointId == endpointId)));
    }

    private static async Task<JsonElement> RecoverAsync(TestPartner partner, Guid endpointId, string body) =>
        await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/recover", Requests.Json(body))).ShouldBeAsync(HttpStatusCode.Accepted);

    private static async Task<JsonElement> CancelledOrderAsync(TestPartner partner)
    {
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        return order;
    }

    private Task<Guid> CancelEventIdAsync(JsonElement order) =>
        api.WithDbAsync(db => db.Events.Where(e => e.OrderId == order.Id() && e.Type == "order.cancelled").Select(e => e.Id).SingleAsync());

    private Task<DateTimeOffset> OccurredAtAsync(Guid eventId) =>
        api.WithDbAsync(db => db.Events.Where(e => e.Id == eventId).Select(e => e.OccurredAt).SingleAsync());

    private static async Task<bool> EnabledAsync(TestPartner partner, Guid endpointId)
    {
        var list = await (await partner.Client.GetAsync("/v1/webhooks")).ShouldBeAsync(HttpStatusCode.OK);
        return list.GetProperty("data").EnumerateArray().Single(w => w.GetProperty("id").GetGuid() == endpointId).GetProperty("enabled").GetBoolean();
    }

    private static string Instant(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
