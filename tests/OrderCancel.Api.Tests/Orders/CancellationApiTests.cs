using System.Net;
using System.Text.Json;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.Cancellations;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §3 and §5 over HTTP: cancel, schedule, unschedule, reactivate, preview.</summary>
[Collection(SharedApi.Name)]
public sealed class CancellationApiTests(ApiFactory api)
{
    [Fact]
    public async Task A_full_cancel_cancels_every_line_releases_shipping_and_records_its_event()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(); // 2×10 + 1×5.50 + 4.90 shipping = 30.40

        var response = await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request","note":"Changed mind"}""");

        var result = await response.ShouldBeAsync(HttpStatusCode.OK);
        var cancelled = result.GetProperty("order");
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.True(cancelled.GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(0m, cancelled.GetProperty("total").GetDecimal());
        Assert.Equal(0m, cancelled.GetProperty("amount_due").GetDecimal());
        Assert.Equal([2, 1], cancelled.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("cancelled_quantity").GetInt32()));
        var cancellation = Assert.Single(cancelled.GetProperty("cancellations").EnumerateArray());
        Assert.Equal("full", cancellation.GetProperty("type").GetString());
        Assert.Equal(30.40m, cancellation.GetProperty("amount_released").GetDecimal());
        Assert.Equal("Changed mind", cancellation.GetProperty("note").GetString());
        Assert.Equal(Day(0), cancellation.GetProperty("effective_date").GetString());
        Assert.Equal(result.GetProperty("event_id").GetGuid(), cancellation.GetProperty("event_id").GetGuid());
        Assert.False(cancellation.GetProperty("test").GetBoolean());
        Assert.Equal($"api_key:{partner.KeyId}", cancellation.GetProperty("actor").GetString());
        Assert.Equal(2, cancellation.GetProperty("items").GetArrayLength());
        Assert.Equal("\"2\"", response.Headers.ETag?.Tag);
        Assert.Equal(["order.created", "order.cancelled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task A_partial_cancel_takes_the_named_quantities_with_per_item_reasons()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(NewOrder(lines: [Line("A", 3, 10m, discount: 3m, taxRate: 0.2m), Line("B", 1, 5m)]));

        var response = await partner.Client.CancelAsync(order,
            """{"reason":"customer_request","items":[{"line_id":1,"quantity":1,"reason":"out_of_stock"}]}""");

        var result = await response.ShouldBeAsync(HttpStatusCode.OK);
        var partial = result.GetProperty("order");
        Assert.Equal("pending", partial.GetProperty("status").GetString());
        Assert.False(partial.GetProperty("shipping_waived").GetBoolean());
        var line = partial.GetProperty("lines")[0];
        Assert.Equal(1, line.GetProperty("cancelled_quantity").GetInt32());
        Assert.Equal(20m, line.GetProperty("subtotal").GetDecimal());
        Assert.Equal(2m, line.GetProperty("discount_applied").GetDecimal());
        Assert.Equal(3.6m, line.GetProperty("tax").GetDecimal());
        var cancellation = partial.GetProperty("cancellations")[0];
        Assert.Equal("partial", cancellation.GetProperty("type").GetString());
        Assert.Equal("out_of_stock", cancellation.GetProperty("items")[0].GetProperty("reason").GetString());
        Assert.Equal(order.GetProperty("total").GetDecimal() - partial.GetProperty("total").GetDecimal(), cancellation.GetProperty("amount_released").GetDecimal());
        Assert.Equal(["order.created", "order.partially_cancelled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task A_partial_cancel_releases_shipping_only_with_waive_shipping()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var result = await (await partner.Client.CancelAsync(order,
            """{"reason":"out_of_stock","items":[{"line_id":2,"quantity":1}],"waive_shipping":true}""")).ShouldBeAsync(HttpStatusCode.OK);

        var partial = result.GetProperty("order");
        Assert.True(partial.GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(20m, partial.GetProperty("total").GetDecimal());
        Assert.Equal(10.40m, partial.GetProperty("cancellations")[0].GetProperty("amount_released").GetDecimal());
    }

    [Fact]
    public async Task A_partial_cancel_that_leaves_nothing_cancels_the_order()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(NewOrder(lines: [Line("A", 2, 10m)]));

        var result = await (await partner.Client.CancelAsync(order,
            """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":2}]}""")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal("cancelled", result.GetProperty("order").GetProperty("status").GetString());
        Assert.Equal("order.cancelled", (await partner.Client.EventTypesAsync(order.Id()))[^1]);
    }

    [Fact]
    public async Task Cancel_with_prefer_return_minimal_answers_without_the_order()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json("""{"reason":"duplicate_order"}""") };
        request.Headers.Add("Prefer", "return=minimal");

        var minimal = await (await partner.Client.SendAsync(request)).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal(order.Id(), minimal.GetProperty("order_id").GetInt64());
        Assert.Equal("cancelled", minimal.GetProperty("status").GetString());
        Assert.False(minimal.TryGetProperty("order", out _));
    }

    public static TheoryData<string, string> StateRefusals => new()
    {
        { """{"reason":"customer_request","items":[{"line_id":9,"quantity":1}]}""", "line_not_found" },
        { """{"reason":"customer_request","items":[{"line_id":1,"quantity":3}]}""", "quantity_exceeds_remaining" },
    };

    [Theory]
    [MemberData(nameof(StateRefusals))]
    public async Task Line_refusals_are_400_with_their_code_and_change_nothing(string body, string code)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        await (await partner.Client.CancelAsync(order, body)).ShouldBeProblemAsync(HttpStatusCode.BadRequest, code);

        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task A_line_id_of_another_order_is_400_line_not_found_and_changes_neither_order()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var other = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());
        var otherBefore = await api.StateAsync(other.Id());
        var otherLine = other.GetProperty("lines")[0].GetProperty("id").GetInt64();

        var response = await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","items":[{"line_id":{{otherLine}},"quantity":1}]}""");

        await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "line_not_found");
        Assert.Equal(before, await api.StateAsync(order.Id()));
        Assert.Equal(otherBefore, await api.StateAsync(other.Id()));
        Assert.Empty(order.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("id").GetInt64())
            .Intersect(other.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("id").GetInt64())));
    }

    [Fact]
    public async Task Cancelling_a_paid_order_is_400_order_already_paid_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.PayAsync(await partner.Client.CreateOrderAsync());
        var before = await api.StateAsync(order.Id());

        var problem = await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}"""))
            .ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_paid");

        Assert.Contains("paid", problem.GetProperty("detail").GetString());
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Cancelling_a_cancelled_order_is_400_order_already_cancelled()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var before = await api.StateAsync(order.Id());

        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_cancelled");

        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    public static TheoryData<string, string> BodyRefusals => new()
    {
        { """{"note":"no reason"}""", "reason" },
        { """{"reason":"other"}""", "note" },
        { """{"reason":"customer_request","items":[{"line_id":1,"quantity":1,"reason":"other"}]}""", "note" },
        { """{"reason":"customer_request","items":[]}""", "items" },
        { """{"reason":"customer_request","items":[{"line_id":1,"quantity":1},{"line_id":1,"quantity":1}]}""", "items" },
        { """{"reason":"customer_request","items":[{"line_id":1,"quantity":0}]}""", "items[0].quantity" },
        { """{"reason":"customer_request","effective_dat":"2099-01-01"}""", "effective_dat" },
        { """{"reason":"customer_request","effective_date":"2020-01-01"}""", "effective_date" },
        { """{"reason":"customer_request","effective_date":"31/12/2030"}""", "effective_date" },
        { """{"reason":"sold_out"}""", "reason" },
    };

    [Theory]
    [MemberData(nameof(BodyRefusals))]
    public async Task A_malformed_cancel_body_is_422_naming_the_property_and_changes_nothing(string body, string property)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        await (await partner.Client.CancelAsync(order, body)).ShouldBeValidationProblemAsync(property);

        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task An_effective_date_beyond_five_years_is_422()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var tooFar = DateOnly.FromDateTime(DateTime.UtcNow).AddYears(5).AddDays(2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{tooFar}}"}""")).ShouldBeValidationProblemAsync("effective_date");
    }

    [Fact]
    public async Task Yesterday_in_the_orders_time_zone_is_422_even_where_it_is_today_elsewhere()
    {
        var partner = await api.NewPartnerAsync();
        var auckland = await partner.Client.CreateOrderAsync(NewOrder(timeZone: "Pacific/Auckland"));
        var aucklandToday = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Pacific/Auckland")).DateTime);
        var yesterday = aucklandToday.AddDays(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        await (await partner.Client.CancelAsync(auckland.Id(), $$"""{"reason":"customer_request","effective_date":"{{yesterday}}"}""")).ShouldBeValidationProblemAsync("effective_date");
    }

    [Fact]
    public async Task A_future_effective_date_schedules_the_cancellation_and_answers_202()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.CancelAsync(order, $$"""{"reason":"customer_request","effective_date":"{{Day(10)}}","items":[{"line_id":1,"quantity":1}]}""");

        var result = await response.ShouldBeAsync(HttpStatusCode.Accepted);
        var scheduled = result.GetProperty("order");
        Assert.Equal("pending", scheduled.GetProperty("status").GetString());
        var plan = scheduled.GetProperty("scheduled_cancellation");
        Assert.Equal(Day(10), plan.GetProperty("effective_date").GetString());
        Assert.Equal(result.GetProperty("event_id").GetGuid(), plan.GetProperty("event_id").GetGuid());
        Assert.Equal(order.GetProperty("lines")[0].GetProperty("id").GetInt64(), plan.GetProperty("items")[0].GetProperty("line_id").GetInt64());
        Assert.Empty(scheduled.GetProperty("cancellations").EnumerateArray());
        Assert.Equal(0, scheduled.GetProperty("lines")[0].GetProperty("cancelled_quantity").GetInt32());
        Assert.Equal(["order.created", "order.cancellation_scheduled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task A_second_scheduled_cancellation_is_400_and_unscheduling_takes_the_first_back()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        var before = await api.StateAsync(order.Id());

        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(4)}}"}"""))
            .ShouldBeProblemAsync(HttpStatusCode.BadRequest, "cancellation_already_scheduled");
        Assert.Equal(before, await api.StateAsync(order.Id()));

        var taken = await (await partner.Client.DeleteAsync($"/v1/orders/{order.Id()}/scheduled-cancellation")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, taken.GetProperty("order").GetProperty("scheduled_cancellation").ValueKind);
        Assert.Equal("order.cancellation_unscheduled", (await partner.Client.EventTypesAsync(order.Id()))[^1]);

        var none = await partner.Client.DeleteAsync($"/v1/orders/{order.Id()}/scheduled-cancellation");
        await none.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "no_scheduled_cancellation");
    }

    [Fact]
    public async Task An_immediate_full_cancel_supersedes_a_scheduled_one()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);

        var result = await (await partner.Client.CancelAsync(order.Id(), """{"reason":"fraud_suspected"}""")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal(JsonValueKind.Null, result.GetProperty("order").GetProperty("scheduled_cancellation").ValueKind);
        Assert.Equal(["order.created", "order.cancellation_scheduled", "order.cancelled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task Reactivation_restores_the_order_and_an_empty_body_will_do()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var response = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", null);

        var restored = (await response.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order");
        Assert.Equal("pending", restored.GetProperty("status").GetString());
        Assert.Equal([1, 0], restored.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("cancelled_quantity").GetInt32()));
        Assert.False(restored.GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(20.40m, restored.GetProperty("total").GetDecimal());
        Assert.NotEqual(JsonValueKind.Null, restored.GetProperty("reactivated_at").ValueKind);
        Assert.Equal("order.reactivated", (await partner.Client.EventTypesAsync(order.Id()))[^1]);
    }

    [Fact]
    public async Task Reactivating_an_order_that_is_not_cancelled_is_400_order_not_cancelled()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", Requests.Json("{}")))
            .ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_not_cancelled");

        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task A_scheduled_reactivation_answers_202_refuses_a_second_and_can_be_taken_back()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(NewOrder(kind: "recurring"));
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var scheduled = await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate",
            Requests.Json($$"""{"effective_date":"{{Day(5)}}","note":"back in a week"}"""))).ShouldBeAsync(HttpStatusCode.Accepted);
        var second = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", Requests.Json($$"""{"effective_date":"{{Day(6)}}"}"""));
        var taken = await partner.Client.DeleteAsync($"/v1/orders/{order.Id()}/scheduled-reactivation");
        var none = await partner.Client.DeleteAsync($"/v1/orders/{order.Id()}/scheduled-reactivation");

        var plan = scheduled.GetProperty("order").GetProperty("scheduled_reactivation");
        Assert.Equal(Day(5), plan.GetProperty("effective_date").GetString());
        Assert.Equal("cancelled", scheduled.GetProperty("order").GetProperty("status").GetString());
        await second.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "reactivation_already_scheduled");
        await taken.ShouldBeAsync(HttpStatusCode.OK);
        await none.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "no_scheduled_reactivation");
        Assert.Equal(
            ["order.created", "order.cancelled", "order.reactivation_scheduled", "order.reactivation_unscheduled"],
            await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task Preview_answers_what_would_happen_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        var now = await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel/preview", Requests.Json("""{"reason":"customer_request"}"""))).ShouldBeAsync(HttpStatusCode.OK);
        var later = await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel/preview",
            Requests.Json(order.WithLineIds($$"""{"reason":"customer_request","effective_date":"{{Day(2)}}","items":[{"line_id":2,"quantity":1}]}""")))).ShouldBeAsync(HttpStatusCode.OK);

        Assert.True(now.GetProperty("allowed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, now.GetProperty("code").ValueKind);
        Assert.Equal("cancelled", now.GetProperty("order").GetProperty("status").GetString());
        Assert.Equal(30.40m, now.GetProperty("amount_released").GetDecimal());
        Assert.False(now.GetProperty("scheduled").GetBoolean());
        Assert.True(later.GetProperty("scheduled").GetBoolean());
        Assert.Equal(5.50m, later.GetProperty("amount_released").GetDecimal());
        Assert.Equal(Day(2), later.GetProperty("order").GetProperty("scheduled_cancellation").GetProperty("effective_date").GetString());
        Assert.Equal(before, await api.StateAsync(order.Id()));
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Preview_answers_the_current_version_as_its_etag_and_names_no_event_that_does_not_exist()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var now = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel/preview", Requests.Json("""{"reason":"customer_request"}"""));
        var later = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel/preview",
            Requests.Json($$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(4)}}"}"""));
        var etag = now.Headers.ETag!.Tag;
        using var cancel = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json("""{"reason":"customer_request"}""") };
        cancel.Headers.TryAddWithoutValidation("If-Match", etag);
        var cancelled = await partner.Client.SendAsync(cancel);

        Assert.Equal($"\"{order.GetProperty("version").GetInt32()}\"", etag);
        Assert.Equal(etag, later.Headers.ETag!.Tag);
        var previewed = (await now.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, previewed.GetProperty("cancellations")[0].GetProperty("event_id").ValueKind);
        var scheduled = (await later.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order").GetProperty("scheduled_cancellation");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, scheduled.GetProperty("event_id").ValueKind);
        var applied = (await cancelled.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order").GetProperty("cancellations")[0];
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, applied.GetProperty("event_id").ValueKind);
    }

    [Fact]
    public async Task Preview_of_a_refused_cancellation_answers_the_code_and_the_current_order()
    {
        var partner = await api.NewPartnerAsync();
        var paid = await partner.Client.PayAsync(await partner.Client.CreateOrderAsync());

        var preview = await (await partner.Client.PostAsync($"/v1/orders/{paid.Id()}/cancel/preview", Requests.Json("""{"reason":"customer_request"}"""))).ShouldBeAsync(HttpStatusCode.OK);
        var malformed = await partner.Client.PostAsync($"/v1/orders/{paid.Id()}/cancel/preview", Requests.Json("""{"reason":"customer_request","items":[]}"""));

        Assert.False(preview.GetProperty("allowed").GetBoolean());
        Assert.Equal("order_already_paid", preview.GetProperty("code").GetString());
        Assert.Equal(0m, preview.GetProperty("amount_released").GetDecimal());
        Assert.Equal(paid.GetRawText(), preview.GetProperty("order").GetRawText());
        await malformed.ShouldBeValidationProblemAsync("items");
    }

    [Fact]
    public async Task A_stale_if_match_is_412_version_mismatch_and_a_current_one_goes_through()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        using var stale = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json("""{"reason":"customer_request"}""") };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"7\"");
        using var current = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json("""{"reason":"customer_request"}""") };
        current.Headers.TryAddWithoutValidation("If-Match", "\"1\"");

        var before = await api.StateAsync(order.Id());

        await (await partner.Client.SendAsync(stale)).ShouldBeProblemAsync(HttpStatusCode.PreconditionFailed, "version_mismatch");
        Assert.Equal(before, await api.StateAsync(order.Id()));
        await (await partner.Client.SendAsync(current)).ShouldBeAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Another_partners_order_cannot_be_cancelled_previewed_or_reactivated()
    {
        var owner = await api.NewPartnerAsync();
        var stranger = await api.NewPartnerAsync();
        var order = await owner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        await (await stranger.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        await (await stranger.Client.PostAsync($"/v1/orders/{order.Id()}/cancel/preview", Requests.Json("""{"reason":"customer_request"}"""))).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        await (await stranger.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        await (await stranger.Client.DeleteAsync($"/v1/orders/{order.Id()}/scheduled-cancellation")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        await (await stranger.Client.PostAsync($"/v1/test/orders/{order.Id()}/cancel", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");

        Assert.Equal(before, await api.StateAsync(order.Id()));
    }
}
