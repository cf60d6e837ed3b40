using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Domain;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §11: unpaid one-time orders expire at <c>expires_at</c>, cancelled by the scheduler with reason <c>expired</c>.</summary>
[Collection(SharedApi.Name)]
public sealed class ExpiryTests(ApiFactory api)
{
    [Fact]
    public async Task A_one_time_order_created_under_a_ttl_shows_when_it_expires_and_a_recurring_one_does_not()
    {
        var partner = await PartnerWithTtlAsync("PT15M");

        var oneTime = await partner.Client.CreateOrderAsync();
        var recurring = await partner.Client.CreateOrderAsync(TestOrders.NewOrder(kind: "recurring"));

        Assert.Equal(Instant(oneTime, "created_at").AddMinutes(15), Instant(oneTime, "expires_at"));
        Assert.Equal(JsonValueKind.Null, recurring.GetProperty("expires_at").ValueKind);
        var untimed = await (await api.NewPartnerAsync()).Client.CreateOrderAsync();
        Assert.Equal(JsonValueKind.Null, untimed.GetProperty("expires_at").ValueKind);
    }

    [Fact]
    public async Task An_order_may_set_its_own_expiry_or_none_at_creation()
    {
        var partner = await PartnerWithTtlAsync("PT15M");
        var at = DateTimeOffset.UtcNow.AddHours(3);
        at = at.AddTicks(-(at.Ticks % TimeSpan.TicksPerMicrosecond)); // what the service keeps (PostgreSQL's precision)

        var own = await partner.Client.CreateOrderAsync(WithExpiry(JsonValue.Create(at.ToString("O", CultureInfo.InvariantCulture))));
        var never = await partner.Client.CreateOrderAsync(WithExpiry(null));

        Assert.Equal(at, Instant(own, "expires_at"));
        Assert.Equal(JsonValueKind.Null, never.GetProperty("expires_at").ValueKind);
        await partner.Client.RunAsOfAsync(DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(own.Id())).GetProperty("status").GetString());
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(never.Id())).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("one_time", "2001-01-01T00:00:00Z")]
    [InlineData("one_time", "2999-01-01T00:00:00Z")]
    [InlineData("one_time", "tomorrow")]
    [InlineData("one_time", "2030-01-01T00:00:00")]
    [InlineData("one_time", "2030-01-01")]
    [InlineData("recurring", "2030-01-01T00:00:00Z")]
    public async Task An_expiry_in_the_past_too_far_ahead_without_an_offset_or_on_a_recurring_order_is_422(string kind, string expiresAt)
    {
        var partner = await api.NewPartnerAsync();
        var order = TestOrders.NewOrder(kind: kind);
        order["expires_at"] = expiresAt;

        await (await partner.Client.PostAsync("/v1/orders", Requests.Json(order))).ShouldBeValidationProblemAsync("expires_at");

        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task An_expiry_on_a_line_is_not_a_known_property()
    {
        var partner = await api.NewPartnerAsync();
        var order = TestOrders.NewOrder();
        order["lines"]![0]!["expires_at"] = "2030-01-01T00:00:00Z";

        await (await partner.Client.PostAsync("/v1/orders", Requests.Json(order))).ShouldBeValidationProblemAsync("lines[0].expires_at");

        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task At_its_expiry_a_pending_order_is_cancelled_by_the_scheduler_with_reason_expired()
    {
        var partner = await PartnerWithTtlAsync("PT10M");
        var order = await partner.Client.CreateOrderAsync();
        var expiresAt = Instant(order, "expires_at");

        await partner.Client.RunAsOfAsync(expiresAt.AddSeconds(-1));
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
        await partner.Client.RunAsOfAsync(expiresAt);

        var expired = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal("cancelled", expired.GetProperty("status").GetString());
        Assert.Equal(0m, expired.GetProperty("amount_due").GetDecimal());
        Assert.Equal(JsonValueKind.Null, expired.GetProperty("expires_at").ValueKind);
        var cancellation = Assert.Single(expired.GetProperty("cancellations").EnumerateArray());
        Assert.Equal("expired", cancellation.GetProperty("reason").GetString());
        Assert.Equal("scheduler", cancellation.GetProperty("actor").GetString());
        Assert.Equal("full", cancellation.GetProperty("type").GetString());
        Assert.Equal(["order.created", "order.cancelled"], await partner.Client.EventTypesAsync(order.Id()));
        await partner.Client.RunAsOfAsync(expiresAt.AddDays(1));
        Assert.Equal(["order.created", "order.cancelled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task An_order_paid_just_before_its_expiry_is_not_cancelled()
    {
        var partner = await PartnerWithTtlAsync("PT10M");
        var order = await partner.Client.CreateOrderAsync();
        var expiresAt = Instant(order, "expires_at");

        var paid = await partner.Client.PayAsync(order);
        await partner.Client.RunAsOfAsync(expiresAt.AddHours(1));

        Assert.Equal(JsonValueKind.Null, paid.GetProperty("expires_at").ValueKind);
        var after = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal("paid", after.GetProperty("status").GetString());
        Assert.Equal(["order.created", "order.paid"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task An_expired_order_reactivates_like_any_other_and_never_expires_again()
    {
        var partner = await PartnerWithTtlAsync("PT10M");
        var order = await partner.Client.CreateOrderAsync();
        await partner.Client.RunAsOfAsync(Instant(order, "expires_at"));

        var reactivated = await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", Requests.Json("{}"))).ShouldBeAsync(HttpStatusCode.OK);
        await partner.Client.RunAsOfAsync(DateTimeOffset.UtcNow.AddDays(2));

        Assert.Equal("pending", reactivated.GetProperty("order").GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, reactivated.GetProperty("order").GetProperty("expires_at").ValueKind);
        Assert.Equal(order.GetProperty("total").GetDecimal(), reactivated.GetProperty("order").GetProperty("total").GetDecimal());
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Changing_the_ttl_applies_to_orders_created_afterwards_only()
    {
        var partner = await PartnerWithTtlAsync("PT10M");
        var before = await partner.Client.CreateOrderAsync();

        await (await PartnerSettingsTests.PatchAsync(partner.Client, """{"unpaid_order_ttl":"P2D"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var after = await partner.Client.CreateOrderAsync();
        await (await PartnerSettingsTests.PatchAsync(partner.Client, """{"unpaid_order_ttl":null}""")).ShouldBeAsync(HttpStatusCode.OK);
        var untimed = await partner.Client.CreateOrderAsync();

        Assert.Equal(Instant(before, "expires_at"), Instant(await partner.Client.GetOrderAsync(before.Id()), "expires_at"));
        Assert.Equal(Instant(after, "created_at").AddDays(2), Instant(after, "expires_at"));
        Assert.Equal(JsonValueKind.Null, untimed.GetProperty("expires_at").ValueKind);
        await partner.Client.RunAsOfAsync(Instant(before, "expires_at"));
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(before.Id())).GetProperty("status").GetString());
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(after.Id())).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("cancel", """{"reason":"expired"}""", "reason")]
    [InlineData("cancel", """{"reason":"customer_request","items":[{"line_id":1,"quantity":1,"reason":"expired"}]}""", "items[0].reason")]
    [InlineData("test", """{"reason":"expired"}""", "reason")]
    [InlineData("job", """{"order_ids":[0],"reason":"expired"}""", "reason")]
    public async Task A_client_sending_reason_expired_gets_422_and_nothing_changes(string route, string body, string property)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());
        var path = route switch
        {
            "cancel" => $"/v1/orders/{order.Id()}/cancel",
            "test" => $"/v1/test/orders/{order.Id()}/cancel",
            _ => "/v1/cancellation-jobs",
        };

        var response = await partner.Client.PostAsync(path, Requests.Json(order.WithLineIds(body.Replace("[0]", $"[{order.Id()}]", StringComparison.Ordinal))));

        await response.ShouldBeValidationProblemAsync(property);
        Assert.Equal(before, await api.StateAsync(order.Id()));
        Assert.Equal(0, await api.WithDbAsync(db => db.CancellationJobs.CountAsync(j => j.PartnerId == partner.Id)));
    }

    [Fact]
    public async Task Two_instances_racing_over_1000_expired_orders_cancel_each_exactly_once()
    {
        var partner = await api.NewPartnerAsync();
        var now = DateTimeOffset.UtcNow;
        var policy = PartnerPolicy.Default with { UnpaidOrderTtl = TimeSpan.FromMinutes(5) };
        await api.WithDbAsync(async db =>
        {
            for (var i = 0; i < 1000; i++)
            {
                var spec = SchedulingRaceTests.Spec();
                db.Orders.Add(Order.Create(partner.Id, spec, await db.NewLineIdsAsync(spec.Lines.Count, CancellationToken.None), now, "api_key:seed", policy));
            }

            return await db.SaveChangesAsync();
        });
        await using var second = api.SecondInstance();
        await second.InitializeAsync();
        var secondClient = second.ClientWithKey(partner.Key);
        var asOf = now.AddMinutes(6).ToString("O", CultureInfo.InvariantCulture);

        var runs = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            (i % 2 == 0 ? partner.Client : secondClient).PostAsync("/v1/test/scheduled-changes/run", Requests.Json($$"""{"as_of":"{{asOf}}"}"""))));

        var applied = 0;
        foreach (var run in runs)
        {
            applied += (await run.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("applied").GetInt32();
        }

        Assert.Equal(1000, applied);
        var perOrder = await api.WithDbAsync(db => db.Events
            .Where(e => e.PartnerId == partner.Id && e.Type == "order.cancelled" && e.Actor == "scheduler")
            .GroupBy(e => e.OrderId)
            .Select(g => g.Count())
            .ToListAsync());
        Assert.Equal(1000, perOrder.Count);
        Assert.All(perOrder, count => Assert.Equal(1, count));
        Assert.Equal(0, await api.WithDbAsync(db => db.Orders.CountAsync(o => o.PartnerId == partner.Id && (o.Status != OrderStatus.Cancelled || o.ExpiresAt != null))));
    }

    private async Task<TestPartner> PartnerWithTtlAsync(string ttl)
    {
        var partner = await api.NewPartnerAsync();
        await (await PartnerSettingsTests.PatchAsync(partner.Client, $$"""{"unpaid_order_ttl":"{{ttl}}"}""")).ShouldBeAsync(HttpStatusCode.OK);
        return partner;
    }

    private static JsonObject WithExpiry(JsonNode? expiresAt)
    {
        var order = TestOrders.NewOrder();
        order["expires_at"] = expiresAt;
        return order;
    }

    private static DateTimeOffset Instant(JsonElement order, string property) => order.GetProperty(property).GetDateTimeOffset();
}
