using System.Net;
using System.Text.Json;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §11: the cancellation window and the shipping rule, through HTTP, with what the database holds after.</summary>
[Collection(SharedApi.Name)]
public sealed class PolicyTests(ApiFactory api)
{
    [Fact]
    public async Task After_the_window_a_cancel_is_400_cancellation_window_closed_and_changes_nothing()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT1H"}""");
        var order = await OrderCreatedHoursAgoAsync(partner, 2);
        var before = await api.StateAsync(order.Id());

        var full = await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""");
        var partial = await partner.Client.CancelAsync(order, """{"reason":"customer_request","items":[{"line_id":1,"quantity":1}]}""");
        var scheduled = await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(3)}}"}""");

        var problem = await full.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "cancellation_window_closed");
        Assert.Contains("closed at", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await partial.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "cancellation_window_closed");
        await scheduled.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "cancellation_window_closed");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Within_the_window_a_cancel_goes_through()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT3H"}""");
        var order = await OrderCreatedHoursAgoAsync(partner, 2);

        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_window_is_checked_after_if_match_and_after_validation()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT1H"}""");
        var order = await OrderCreatedHoursAgoAsync(partner, 2);
        var stale = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json("""{"reason":"customer_request"}""") };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"99\"");

        await (await partner.Client.SendAsync(stale)).ShouldBeProblemAsync(HttpStatusCode.PreconditionFailed, "version_mismatch");
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_requests"}""")).ShouldBeValidationProblemAsync("reason");
        await (await partner.Client.CancelAsync(order.Id() + 1_000_000, """{"reason":"customer_request"}""")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
    }

    [Fact]
    public async Task A_paid_order_past_the_window_answers_order_already_paid_first()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT1H"}""");
        var order = await partner.Client.CreateOrderAsync();
        await partner.Client.PayAsync(order);
        await BackdateAsync(order.Id(), 2);

        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_paid");
    }

    [Fact]
    public async Task Preview_after_the_window_answers_allowed_false_with_the_code()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT1H"}""");
        var order = await OrderCreatedHoursAgoAsync(partner, 2);
        var before = await api.StateAsync(order.Id());

        var preview = await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel/preview", Requests.Json("""{"reason":"customer_request"}""")))
            .ShouldBeAsync(HttpStatusCode.OK);

        Assert.False(preview.GetProperty("allowed").GetBoolean());
        Assert.Equal("cancellation_window_closed", preview.GetProperty("code").GetString());
        Assert.Equal(0m, preview.GetProperty("amount_released").GetDecimal());
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task The_test_cancel_and_taking_back_a_scheduled_cancellation_are_not_bound_by_the_window()
    {
        var partner = await api.NewPartnerAsync();
        var scheduled = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(scheduled.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        var tested = await OrderCreatedHoursAgoAsync(partner, 2);
        await BackdateAsync(scheduled.Id(), 2);
        await (await PartnerSettingsTests.PatchAsync(partner.Client, """{"cancellation_window":"PT1H"}""")).ShouldBeAsync(HttpStatusCode.OK);

        await (await partner.Client.PostAsync($"/v1/test/orders/{tested.Id()}/cancel", Requests.Json("{}"))).ShouldBeAsync(HttpStatusCode.OK);
        await (await partner.Client.DeleteAsync($"/v1/orders/{scheduled.Id()}/scheduled-cancellation")).ShouldBeAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_scheduled_cancellation_made_inside_the_window_applies_after_it_closed()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT1H"}""");
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(2)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);

        await partner.Client.RunScheduledChangesAsync(Cancellations.Day(3));

        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_bulk_job_reports_orders_past_the_window_as_refused_with_the_code_in_its_dry_run_and_its_run()
    {
        var partner = await PartnerWithAsync("""{"cancellation_window":"PT1H"}""");
        var old = await OrderCreatedHoursAgoAsync(partner, 2);
        var recent = await partner.Client.CreateOrderAsync();
        var body = $$"""{"order_ids":[{{old.Id()}},{{recent.Id()}}],"reason":"out_of_stock","dry_run":true}""";

        var dryRun = await partner.Client.RunJobAsync(body);
        var dryResults = await partner.Client.JobResultsAsync(dryRun.GetProperty("id").GetGuid());
        var run = await partner.Client.RunJobAsync(body.Replace("true", "false", StringComparison.Ordinal));
        var results = await partner.Client.JobResultsAsync(run.GetProperty("id").GetGuid());

        foreach (var outcome in new[] { dryResults, results })
        {
            Assert.Equal("refused cancellation_window_closed", Describe(outcome.Single(r => r.OrderId == old.Id())));
            Assert.Equal("cancelled ", Describe(outcome.Single(r => r.OrderId == recent.Id())));
        }

        Assert.Equal("pending", (await partner.Client.GetOrderAsync(old.Id())).GetProperty("status").GetString());
        Assert.Equal(["order.created"], await partner.Client.EventTypesAsync(old.Id()));
    }

    /// <summary>
    /// Lines 2 × 10.00 and 1 × 5.50, shipping 4.90 (SPEC §4): total 30.40. Cancelling one unit of line 1 releases 10.00,
    /// and 4.90 more when shipping goes with it.
    /// </summary>
    [Theory]
    [InlineData("keep", "", 10.00, false)]
    [InlineData("keep", ""","waive_shipping":true""", 14.90, true)]
    [InlineData("release", "", 14.90, true)]
    [InlineData("release", ""","waive_shipping":false""", 10.00, false)]
    [InlineData("release_when_empty", "", 10.00, false)]
    [InlineData("release_when_empty", ""","waive_shipping":true""", 10.00, false)]
    public async Task A_partial_cancel_releases_shipping_as_the_rule_says(string rule, string waive, decimal released, bool shippingWaived)
    {
        var partner = await PartnerWithAsync($$"""{"shipping_on_partial_cancel":"{{rule}}"}""");
        var order = await partner.Client.CreateOrderAsync();

        var answer = await (await partner.Client.CancelAsync(order, $$"""{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]{{waive}}}"""))
            .ShouldBeAsync(HttpStatusCode.OK);

        var after = answer.GetProperty("order");
        Assert.Equal(30.40m, order.GetProperty("total").GetDecimal());
        Assert.Equal(30.40m - released, after.GetProperty("total").GetDecimal());
        Assert.Equal(shippingWaived, after.GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(released, after.GetProperty("cancellations")[0].GetProperty("amount_released").GetDecimal());
        Assert.Equal(shippingWaived, after.GetProperty("cancellations")[0].GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(after.GetProperty("total").GetDecimal(), after.GetProperty("amount_due").GetDecimal());
    }

    [Theory]
    [InlineData("keep")]
    [InlineData("release")]
    [InlineData("release_when_empty")]
    public async Task A_full_cancel_releases_shipping_under_every_rule_and_reactivation_restores_it(string rule)
    {
        var partner = await PartnerWithAsync($$"""{"shipping_on_partial_cancel":"{{rule}}"}""");
        var order = await partner.Client.CreateOrderAsync();

        var cancelled = await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request","waive_shipping":false}""")).ShouldBeAsync(HttpStatusCode.OK);
        var reactivated = await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", Requests.Json("{}"))).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal(30.40m, cancelled.GetProperty("order").GetProperty("cancellations")[0].GetProperty("amount_released").GetDecimal());
        Assert.True(cancelled.GetProperty("order").GetProperty("shipping_waived").GetBoolean());
        Assert.False(reactivated.GetProperty("order").GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(30.40m, reactivated.GetProperty("order").GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task Under_release_when_empty_the_partial_cancel_that_takes_the_last_quantity_releases_shipping()
    {
        var partner = await PartnerWithAsync("""{"shipping_on_partial_cancel":"release_when_empty"}""");
        var order = await partner.Client.CreateOrderAsync();

        var first = await (await partner.Client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":2}],"waive_shipping":true}""")).ShouldBeAsync(HttpStatusCode.OK);
        var last = await (await partner.Client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":2,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal(10.40m, first.GetProperty("order").GetProperty("total").GetDecimal());
        Assert.Equal("cancelled", last.GetProperty("order").GetProperty("status").GetString());
        Assert.Equal(10.40m, last.GetProperty("order").GetProperty("cancellations")[1].GetProperty("amount_released").GetDecimal());
        Assert.Equal(0m, last.GetProperty("order").GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task A_partner_with_default_settings_keeps_spec_section_3_exactly()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await BackdateAsync(order.Id(), 24 * 400);

        var answer = await (await partner.Client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal(20.40m, answer.GetProperty("order").GetProperty("total").GetDecimal());
        Assert.False(answer.GetProperty("order").GetProperty("shipping_waived").GetBoolean());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("order").GetProperty("expires_at").ValueKind);
    }

    private static string Describe(JobResult result) => $"{result.Outcome} {result.Code}";

    private async Task<TestPartner> PartnerWithAsync(string settings)
    {
        var partner = await api.NewPartnerAsync();
        await (await PartnerSettingsTests.PatchAsync(partner.Client, settings)).ShouldBeAsync(HttpStatusCode.OK);
        return partner;
    }

    private async Task<JsonElement> OrderCreatedHoursAgoAsync(TestPartner partner, int hours)
    {
        var order = await partner.Client.CreateOrderAsync();
        await BackdateAsync(order.Id(), hours);
        return order;
    }

    /// <summary>Moves the order's creation back in time: the window counts from created_at, and a test cannot wait an hour.</summary>
    private Task<int> BackdateAsync(long orderId, int hours) =>
        Sql.ExecuteAsync(api.ConnectionString, "UPDATE orders SET created_at = created_at - make_interval(hours => @hours) WHERE id = @id", ("hours", hours), ("id", orderId));
}
