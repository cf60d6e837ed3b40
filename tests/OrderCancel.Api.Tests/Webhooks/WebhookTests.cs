using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Api.Webhooks;
using static OrderCancel.Api.Tests.Infrastructure.Cancellations;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §9 with a real receiver on loopback: signed, at-least-once, retried, isolated.</summary>
[Collection(SharedApi.Name)]
public sealed class WebhookTests(ApiFactory api)
{
    [Fact]
    public async Task Registering_shows_the_secret_once_and_listing_never_does()
    {
        var partner = await api.NewPartnerAsync();

        var created = await (await partner.Client.PostAsync("/v1/webhooks", Requests.Json("""{"url":"https://partner.example/hooks","events":["*"]}"""))).ShouldBeAsync(HttpStatusCode.Created);
        var list = await (await partner.Client.GetAsync("/v1/webhooks")).ShouldBeAsync(HttpStatusCode.OK);

        var secret = created.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret);
        Assert.True(Convert.FromBase64String(secret["whsec_".Length..]).Length >= 24);
        Assert.True(created.GetProperty("enabled").GetBoolean());
        var listed = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal(created.GetProperty("id").GetGuid(), listed.GetProperty("id").GetGuid());
        Assert.False(listed.TryGetProperty("secret", out _));
        Assert.DoesNotContain(secret, list.GetRawText());
    }

    [Theory]
    [InlineData("""{"url":"ftp://partner.example/hooks","events":["*"]}""", "url")]
    [InlineData("""{"url":"http://partner.example/hooks","events":["*"]}""", "url")]
    [InlineData("""{"url":"https://10.1.2.3/hooks","events":["*"]}""", "url")]
    [InlineData("""{"url":"https://169.254.169.254/latest","events":["*"]}""", "url")]
    [InlineData("""{"url":"https://[fd00::1]/hooks","events":["*"]}""", "url")]
    [InlineData("""{"url":"not a url","events":["*"]}""", "url")]
    [InlineData("""{"url":"https://partner.example/hooks","events":["order.shipped"]}""", "events[0]")]
    [InlineData("""{"url":"https://partner.example/hooks","events":[]}""", "events")]
    [InlineData("""{"url":"https://partner.example/hooks"}""", "events")]
    public async Task A_bad_url_or_event_type_is_422_and_registers_nothing(string body, string property)
    {
        var partner = await api.NewPartnerAsync();

        await (await partner.Client.PostAsync("/v1/webhooks", Requests.Json(body))).ShouldBeValidationProblemAsync(property);

        Assert.Equal(0, await api.WithDbAsync(db => db.WebhookEndpoints.CountAsync(w => w.PartnerId == partner.Id)));
    }

    [Fact]
    public async Task A_cancel_is_delivered_signed_with_the_event_id_and_the_order()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var (endpointId, secret) = await RegisterAsync(partner, receiver.Url, "order.cancelled");
        var order = await partner.Client.CreateOrderAsync();

        var cancel = await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var delivered = Assert.Single(await receiver.WaitForAsync(r => r.Count >= 1));
        Assert.True(Verifies(delivered, secret), "The signature does not verify with the endpoint's secret.");
        Assert.False(Verifies(delivered, "whsec_" + Convert.ToBase64String(new byte[32])));
        var body = JsonDocument.Parse(delivered.Body).RootElement;
        var eventId = cancel.GetProperty("event_id").GetGuid();
        Assert.Equal(eventId.ToString(), delivered.Id);
        Assert.Equal(eventId, body.GetProperty("id").GetGuid());
        Assert.Equal("order.cancelled", body.GetProperty("type").GetString());
        Assert.Equal(["id", "type", "timestamp", "data"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(cancel.GetProperty("order").GetRawText(), body.GetProperty("data").GetProperty("order").GetRawText());
        Assert.InRange(long.Parse(delivered.Timestamp, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        var delivery = await WaitForDeliveryAsync(partner, endpointId, d => d.GetProperty("status").GetString() == "succeeded");
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(200, delivery.GetProperty("last_response_code").GetInt32());
        Assert.Equal(eventId, delivery.GetProperty("event_id").GetGuid());
    }

    [Fact]
    public async Task A_scheduled_cancel_applied_by_the_scheduler_and_a_test_cancel_are_delivered()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        await RegisterAsync(partner, receiver.Url, "order.cancelled");
        var scheduled = await partner.Client.CreateOrderAsync();
        var tested = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(scheduled.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(1)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);

        await partner.Client.RunScheduledChangesAsync(Day(2));
        await (await partner.Client.PostAsync($"/v1/test/orders/{tested.Id()}/cancel", null)).ShouldBeAsync(HttpStatusCode.OK);

        var received = await receiver.WaitForAsync(r => r.Count >= 2);
        var orders = received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("data").GetProperty("order")).ToList();
        Assert.Equal([scheduled.Id(), tested.Id()], orders.Select(o => o.Id()).Order());
        Assert.All(received, r => Assert.Equal("order.cancelled", JsonDocument.Parse(r.Body).RootElement.GetProperty("type").GetString()));
        var byScheduler = orders.Single(o => o.Id() == scheduled.Id()).GetProperty("cancellations")[0];
        Assert.Equal("scheduler", byScheduler.GetProperty("actor").GetString());
        Assert.True(orders.Single(o => o.Id() == tested.Id()).GetProperty("cancellations")[0].GetProperty("test").GetBoolean());
    }

    [Fact]
    public async Task Events_of_unsubscribed_types_and_from_before_registration_are_not_sent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var earlier = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(earlier.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var (endpointId, _) = await RegisterAsync(partner, receiver.Url, "order.cancelled");
        var order = await partner.Client.CreateOrderAsync();

        await (await partner.Client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var received = await receiver.WaitForAsync(r => r.Count >= 1);
        await WaitForDeliveryAsync(partner, endpointId, d => d.GetProperty("status").GetString() == "succeeded");
        var deliveries = await (await partner.Client.GetAsync($"/v1/webhooks/{endpointId}/deliveries")).ReadJsonAsync();
        var only = Assert.Single(deliveries.GetProperty("data").EnumerateArray());
        Assert.Equal("order.cancelled", only.GetProperty("event_type").GetString());
        Assert.Equal(order.Id(), JsonDocument.Parse(Assert.Single(received).Body).RootElement.GetProperty("data").GetProperty("order").Id());
    }

    [Fact]
    public async Task A_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_with_the_same_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, attempt) =>
            new WebhookReceiver.Answer(attempt <= 2 ? HttpStatusCode.InternalServerError : HttpStatusCode.OK));
        var partner = await api.NewPartnerAsync();
        var (endpointId, secret) = await RegisterAsync(partner, receiver.Url, "*");
        var order = await partner.Client.CreateOrderAsync();

        var received = await receiver.WaitForAsync(r => r.Count >= 3);

        Assert.Equal(3, received.Count);
        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.Single(received.Select(r => r.Body).Distinct());
        Assert.All(received, r => Assert.True(Verifies(r, secret)));
        var delivery = await WaitForDeliveryAsync(partner, endpointId, d => d.GetProperty("status").GetString() == "succeeded");
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(order.Id(), JsonDocument.Parse(received[2].Body).RootElement.GetProperty("data").GetProperty("order").Id());
    }

    [Fact]
    public async Task Every_attempt_names_the_service_and_its_version_in_User_Agent()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, attempt) =>
            new WebhookReceiver.Answer(attempt == 1 ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK));
        var partner = await api.NewPartnerAsync();
        await RegisterAsync(partner, receiver.Url, "*");
        await partner.Client.CreateOrderAsync();

        var received = await receiver.WaitForAsync(r => r.Count >= 2);

        var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.All(received, r => Assert.Equal($"OrderCancel-Webhooks/{version}", r.UserAgent));
    }

    [Fact]
    public async Task Retry_after_on_a_503_is_honoured()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, attempt) =>
            attempt == 1 ? new WebhookReceiver.Answer(HttpStatusCode.ServiceUnavailable, RetryAfter: 120) : new WebhookReceiver.Answer(HttpStatusCode.OK));
        var partner = await api.NewPartnerAsync();
        var (endpointId, _) = await RegisterAsync(partner, receiver.Url, "*");
        await partner.Client.CreateOrderAsync();

        var delivery = await WaitForDeliveryAsync(partner, endpointId, d => d.GetProperty("attempts").GetInt32() == 1);

        Assert.Equal("pending", delivery.GetProperty("status").GetString());
        Assert.Equal(503, delivery.GetProperty("last_response_code").GetInt32());
        var wait = delivery.GetProperty("next_attempt_at").GetDateTimeOffset() - delivery.GetProperty("last_attempt_at").GetDateTimeOffset();
        Assert.InRange(wait, TimeSpan.FromSeconds(119), TimeSpan.FromSeconds(121)); // not the 0.2 s first retry
    }

    [Fact]
    public async Task A_410_disables_the_endpoint_and_a_manual_retry_sends_again()
    {
        var gone = true;
        await using var receiver = await WebhookReceiver.StartAsync((_, _) => new WebhookReceiver.Answer(gone ? HttpStatusCode.Gone : HttpStatusCode.OK));
        var partner = await api.NewPartnerAsync();
        var (endpointId, _) = await RegisterAsync(partner, receiver.Url, "*");
        await partner.Client.CreateOrderAsync();

        var failed = await WaitForDeliveryAsync(partner, endpointId, d => d.GetProperty("status").GetString() == "failed");
        var list = await (await partner.Client.GetAsync("/v1/webhooks")).ReadJsonAsync();
        Assert.False(list.GetProperty("data")[0].GetProperty("enabled").GetBoolean());
        Assert.Equal(410, failed.GetProperty("last_response_code").GetInt32());

        gone = false;
        var retry = await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/deliveries/{failed.GetProperty("id").GetGuid()}/retry", null);

        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        var succeeded = await WaitForDeliveryAsync(partner, endpointId, d => d.GetProperty("status").GetString() == "succeeded");
        Assert.Equal(2, succeeded.GetProperty("attempts").GetInt32());
        Assert.Equal(2, receiver.Received.Count);
    }

    [Fact]
    public async Task Another_partners_endpoints_and_deliveries_are_404()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var owner = await api.NewPartnerAsync();
        var stranger = await api.NewPartnerAsync();
        var (endpointId, _) = await RegisterAsync(owner, receiver.Url, "*");
        await owner.Client.CreateOrderAsync();
        var delivery = await WaitForDeliveryAsync(owner, endpointId, d => d.GetProperty("status").GetString() == "succeeded");

        await (await stranger.Client.GetAsync($"/v1/webhooks/{endpointId}/deliveries")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await stranger.Client.PostAsync($"/v1/webhooks/{endpointId}/deliveries/{delivery.GetProperty("id").GetGuid()}/retry", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await stranger.Client.DeleteAsync($"/v1/webhooks/{endpointId}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        Assert.Empty((await (await stranger.Client.GetAsync("/v1/webhooks")).ReadJsonAsync()).GetProperty("data").EnumerateArray());
        await (await owner.Client.DeleteAsync($"/v1/webhooks/{endpointId}")).ShouldBeAsync(HttpStatusCode.NoContent);
        await (await owner.Client.DeleteAsync($"/v1/webhooks/{endpointId}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData(1, 4_000, 6_000)]
    [InlineData(2, 16_000, 24_000)]
    [InlineData(3, 64_000, 96_000)]
    [InlineData(12, 17_280_000, 21_600_000)]
    public void Retries_back_off_four_times_each_time_with_jitter_up_to_six_hours(int failures, int minMs, int maxMs)
    {
        var low = RetrySchedule.Delay(failures, TimeSpan.FromSeconds(5), 0.0);
        var high = RetrySchedule.Delay(failures, TimeSpan.FromSeconds(5), 0.999999);

        Assert.InRange(low.TotalMilliseconds, minMs, maxMs);
        Assert.InRange(high.TotalMilliseconds, minMs, maxMs);
        Assert.True(high > low || high == TimeSpan.FromHours(6));
    }

    [Fact]
    public void The_signature_matches_the_standard_webhooks_reference_vector()
    {
        var signature = WebhookSignature.Sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, """{"test": 2432232314}"""u8);

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    /// <summary>How a receiver verifies a delivery (docs/api.md, "Webhooks", shows the same code).</summary>
    public static bool Verifies(ReceivedWebhook webhook, string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = Encoding.UTF8.GetBytes($"{webhook.Id}.{webhook.Timestamp}.{webhook.Body}");
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
        return webhook.Signature.Split(' ').Any(candidate =>
            CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), Encoding.UTF8.GetBytes(expected)));
    }

    public static async Task<(Guid Id, string Secret)> RegisterAsync(TestPartner partner, string url, string events)
    {
        var created = await (await partner.Client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{url}}","events":["{{events}}"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        return (created.GetProperty("id").GetGuid(), created.GetProperty("secret").GetString()!);
    }

    private static async Task<JsonElement> WaitForDeliveryAsync(TestPartner partner, Guid endpointId, Func<JsonElement, bool> condition)
    {
        JsonElement list = default;
        JsonElement? found = null;
        await Eventually.TrueAsync(
            async () =>
            {
                list = await (await partner.Client.GetAsync($"/v1/webhooks/{endpointId}/deliveries")).ShouldBeAsync(HttpStatusCode.OK);
                found = list.GetProperty("data").EnumerateArray().Where(condition).Cast<JsonElement?>().FirstOrDefault();
                return found is not null;
            },
            () => $"No delivery matched: {list.GetRawText()}");
        return found!.Value;
    }
}
