using System.Net;
using System.Text.Json;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.Cancellations;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary><c>/v1/test/*</c> outside Production: test cancels and applying scheduled changes by <c>as_of</c>.</summary>
[Collection(SharedApi.Name)]
public sealed class TestRoutesTests(ApiFactory api)
{
    [Fact]
    public async Task A_test_cancel_cancels_even_a_paid_order_and_fires_order_cancelled()
    {
        var partner = await api.NewPartnerAsync();
        var paid = await partner.Client.PayAsync(await partner.Client.CreateOrderAsync());

        var result = await (await partner.Client.PostAsync($"/v1/test/orders/{paid.Id()}/cancel", null)).ShouldBeAsync(HttpStatusCode.OK);

        var order = result.GetProperty("order");
        Assert.Equal("cancelled", order.GetProperty("status").GetString());
        var cancellation = Assert.Single(order.GetProperty("cancellations").EnumerateArray());
        Assert.True(cancellation.GetProperty("test").GetBoolean());
        Assert.Equal("full", cancellation.GetProperty("type").GetString());
        Assert.Equal("other", cancellation.GetProperty("reason").GetString());
        Assert.Equal(["order.created", "order.paid", "order.cancelled"], await partner.Client.EventTypesAsync(paid.Id()));
    }

    [Fact]
    public async Task A_test_cancel_takes_a_reason_and_refuses_a_cancelled_order()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var first = await (await partner.Client.PostAsync($"/v1/test/orders/{order.Id()}/cancel", Requests.Json("""{"reason":"fraud_suspected"}"""))).ShouldBeAsync(HttpStatusCode.OK);
        var before = await api.StateAsync(order.Id());
        var second = await partner.Client.PostAsync($"/v1/test/orders/{order.Id()}/cancel", Requests.Json("{}"));

        Assert.Equal("fraud_suspected", first.GetProperty("order").GetProperty("cancellations")[0].GetProperty("reason").GetString());
        await second.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_cancelled");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Running_scheduled_changes_applies_what_is_due_by_as_of_as_the_scheduler()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);

        var early = await RunAsync(partner, $"{Day(2)}T23:59:59Z");
        var due = await RunAsync(partner, $"{Day(3)}T00:00:00Z");
        var again = await RunAsync(partner, $"{Day(4)}T00:00:00Z");

        Assert.Equal((0, 0), early);
        Assert.Equal((1, 0), due);
        Assert.Equal((0, 0), again);
        var cancelled = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, cancelled.GetProperty("scheduled_cancellation").ValueKind);
        var cancellation = cancelled.GetProperty("cancellations")[0];
        Assert.Equal(Day(3), cancellation.GetProperty("effective_date").GetString());
        Assert.Equal("scheduler", cancellation.GetProperty("actor").GetString());
        var events = await (await partner.Client.GetAsync($"/v1/orders/{order.Id()}/events")).ReadJsonAsync();
        Assert.Equal("scheduler", events.GetProperty("data")[2].GetProperty("actor").GetString());
        Assert.Equal(["order.created", "order.cancellation_scheduled", "order.cancelled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task The_same_effective_date_applies_at_different_instants_in_Auckland_and_Los_Angeles()
    {
        var partner = await api.NewPartnerAsync();
        var auckland = await partner.Client.CreateOrderAsync(NewOrder(timeZone: "Pacific/Auckland"));
        var losAngeles = await partner.Client.CreateOrderAsync(NewOrder(timeZone: "America/Los_Angeles"));
        var date = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(10);
        var day = date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var order in new[] { auckland, losAngeles })
        {
            await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{day}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        }

        var aucklandMidnight = Midnight(date, "Pacific/Auckland");
        var losAngelesMidnight = Midnight(date, "America/Los_Angeles");

        Assert.Equal((0, 0), await RunAsync(partner, aucklandMidnight.AddSeconds(-1)));
        Assert.Equal((1, 0), await RunAsync(partner, aucklandMidnight));
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(auckland.Id())).GetProperty("status").GetString());
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(losAngeles.Id())).GetProperty("status").GetString());
        Assert.Equal((0, 0), await RunAsync(partner, losAngelesMidnight.AddSeconds(-1)));
        Assert.Equal((1, 0), await RunAsync(partner, losAngelesMidnight));
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(losAngeles.Id())).GetProperty("status").GetString());
        Assert.True(losAngelesMidnight - aucklandMidnight >= TimeSpan.FromHours(20));
    }

    [Fact]
    public async Task A_scheduled_cancellation_of_an_order_paid_meanwhile_fails_with_its_reason_code()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(1)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        await partner.Client.PayAsync(order);

        Assert.Equal((0, 1), await RunAsync(partner, $"{Day(2)}T00:00:00Z"));

        var paid = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal("paid", paid.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, paid.GetProperty("scheduled_cancellation").ValueKind);
        var events = await (await partner.Client.GetAsync($"/v1/orders/{order.Id()}/events")).ReadJsonAsync();
        var failed = events.GetProperty("data").EnumerateArray().Last();
        Assert.Equal("order.scheduled_cancellation_failed", failed.GetProperty("type").GetString());
        Assert.Equal("order_already_paid", failed.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal("scheduler", failed.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task A_scheduled_reactivation_applies_when_due()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(NewOrder(kind: "recurring"));
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", Requests.Json($$"""{"effective_date":"{{Day(2)}}"}"""))).ShouldBeAsync(HttpStatusCode.Accepted);

        Assert.Equal((1, 0), await RunAsync(partner, $"{Day(2)}T00:00:00Z"));

        Assert.Equal("active", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Running_touches_only_the_callers_orders_and_needs_as_of()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        var theirs = await other.Client.CreateOrderAsync();
        await (await other.Client.CancelAsync(theirs.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(1)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);

        Assert.Equal((0, 0), await RunAsync(partner, $"{Day(5)}T00:00:00Z"));
        await (await partner.Client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json("{}"))).ShouldBeValidationProblemAsync("as_of");
        await (await partner.Client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json("""{"as_of":"tomorrow"}"""))).ShouldBeValidationProblemAsync("as_of");

        Assert.Equal("pending", (await other.Client.GetOrderAsync(theirs.Id())).GetProperty("status").GetString());
    }

    private static Task<(int Applied, int Failed)> RunAsync(TestPartner partner, DateTimeOffset asOf) =>
        RunAsync(partner, asOf.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<(int Applied, int Failed)> RunAsync(TestPartner partner, string asOf)
    {
        var result = await (await partner.Client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json($$"""{"as_of":"{{asOf}}"}"""))).ShouldBeAsync(HttpStatusCode.OK);
        return (result.GetProperty("applied").GetInt32(), result.GetProperty("failed").GetInt32());
    }

    private static DateTimeOffset Midnight(DateOnly date, string zoneId)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var local = date.ToDateTime(TimeOnly.MinValue);
        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }
}
