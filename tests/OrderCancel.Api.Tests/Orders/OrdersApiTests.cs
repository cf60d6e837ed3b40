using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

[Collection(SharedApi.Name)]
public sealed class OrdersApiTests(ApiFactory api)
{
    [Fact]
    public async Task Create_one_time_order_answers_201_with_location_etag_and_derived_amounts()
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder(lines: [Line("A", 3, 19.90m, discount: 5m, taxRate: 0.2m)]);
        body["metadata"] = new JsonObject { ["insurer"] = "Acme", ["policy"] = "P-1" };

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        var order = await response.ShouldBeAsync(HttpStatusCode.Created);
        Assert.Equal($"/v1/orders/{order.Id()}", response.Headers.Location?.ToString());
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        Assert.Equal("pending", order.GetProperty("status").GetString());
        Assert.Equal("UTC", order.GetProperty("time_zone").GetString());
        Assert.Equal("api", order.GetProperty("channel").GetString());
        var line = order.GetProperty("lines")[0];
        Assert.True(line.GetProperty("id").GetInt64() >= 1);
        Assert.Equal(59.70m, line.GetProperty("subtotal").GetDecimal());
        Assert.Equal(5m, line.GetProperty("discount_applied").GetDecimal());
        Assert.Equal(10.94m, line.GetProperty("tax").GetDecimal()); // (59.70 - 5) × 0.2 = 10.94
        Assert.Equal(65.64m, line.GetProperty("total").GetDecimal());
        Assert.Equal(70.54m, order.GetProperty("total").GetDecimal()); // + 4.90 shipping
        Assert.Equal(70.54m, order.GetProperty("amount_due").GetDecimal());
        Assert.Equal(0m, order.GetProperty("amount_paid").GetDecimal());
        Assert.Equal("{\"insurer\":\"Acme\",\"policy\":\"P-1\"}", order.GetProperty("metadata").GetRawText());
        Assert.EndsWith("Z", order.GetProperty("created_at").GetString());
        Assert.Equal(1, order.GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task Create_recurring_order_starts_active_with_its_billing_period()
    {
        var partner = await api.NewPartnerAsync();

        var order = await partner.Client.CreateOrderAsync(NewOrder(kind: "recurring"));

        Assert.Equal("active", order.GetProperty("status").GetString());
        Assert.Equal("monthly", order.GetProperty("billing_period").GetString());
    }

    [Fact]
    public async Task Create_writes_one_order_created_event_carrying_the_order()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var events = await (await partner.Client.GetAsync($"/v1/orders/{order.Id()}/events")).ShouldBeAsync(HttpStatusCode.OK);

        var created = Assert.Single(events.GetProperty("data").EnumerateArray());
        Assert.Equal("order.created", created.GetProperty("type").GetString());
        Assert.Equal(order.Id(), created.GetProperty("order_id").GetInt64());
        Assert.Equal($"api_key:{partner.KeyId}", created.GetProperty("actor").GetString());
        Assert.Equal(order.GetRawText(), created.GetProperty("data").GetProperty("order").GetRawText());
    }

    [Fact]
    public async Task Create_with_prefer_return_minimal_answers_event_id_order_id_and_status()
    {
        var partner = await api.NewPartnerAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = Requests.Json(NewOrder()) };
        request.Headers.Add("Prefer", "return=minimal");

        var response = await partner.Client.SendAsync(request);

        var minimal = await response.ShouldBeAsync(HttpStatusCode.Created);
        Assert.Equal(["event_id", "order_id", "status"], minimal.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("pending", minimal.GetProperty("status").GetString());
        Assert.NotNull(response.Headers.ETag);
        var events = await (await partner.Client.GetAsync($"/v1/orders/{minimal.GetProperty("order_id").GetInt64()}/events")).ReadJsonAsync();
        Assert.Equal(minimal.GetProperty("event_id").GetGuid(), events.GetProperty("data")[0].GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Amounts_follow_the_currency_minor_unit_for_JPY_and_KWD()
    {
        var partner = await api.NewPartnerAsync();

        var yen = await partner.Client.CreateOrderAsync(NewOrder(currency: "JPY", shippingCost: 500m, lines: [Line("A", 3, 1000m, discount: 100m, taxRate: 0.1m)]));
        var dinar = await partner.Client.CreateOrderAsync(NewOrder(currency: "KWD", shippingCost: 0m, lines: [Line("A", 3, 1.005m, taxRate: 0.05m)]));

        Assert.Equal(3000m, yen.GetProperty("subtotal").GetDecimal());
        Assert.Equal(290m, yen.GetProperty("tax").GetDecimal()); // (3000 - 100) × 0.1
        Assert.Equal(3690m, yen.GetProperty("total").GetDecimal()); // 3000 - 100 + 290 + 500 shipping
        Assert.Equal(0.151m, dinar.GetProperty("tax").GetDecimal()); // 3.015 × 0.05 = 0.15075 → 0.151
        Assert.Equal(3.166m, dinar.GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task Get_answers_the_order_with_its_etag()
    {
        var partner = await api.NewPartnerAsync();
        var created = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.GetAsync($"/v1/orders/{created.Id()}");

        var order = await response.ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(created.GetRawText(), order.GetRawText());
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Get_unknown_order_is_404_order_not_found()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync("/v1/orders/987654321");

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        Assert.Equal("Order not found", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Another_partners_order_is_a_404_with_the_same_body_as_an_unknown_id()
    {
        var owner = await api.NewPartnerAsync();
        var stranger = await api.NewPartnerAsync();
        var order = await owner.Client.CreateOrderAsync();
        var unknownId = order.Id() + 1_000_000;

        var foreign = await (await stranger.Client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        var unknown = await (await stranger.Client.GetAsync($"/v1/orders/{unknownId}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");

        Assert.Equal(
            unknown.GetProperty("detail").GetString()!.Replace(unknownId.ToString(CultureInfo.InvariantCulture), "{id}"),
            foreign.GetProperty("detail").GetString()!.Replace(order.Id().ToString(CultureInfo.InvariantCulture), "{id}"));
        Assert.Equal(unknown.GetProperty("title").GetString(), foreign.GetProperty("title").GetString());
        await (await stranger.Client.GetAsync($"/v1/orders/{order.Id()}/events")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        await (await stranger.Client.PostAsync($"/v1/orders/{order.Id()}/payments", Requests.Json("""{"method":"card","amount":30.40}""")))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        var list = await (await stranger.Client.GetAsync("/v1/orders")).ReadJsonAsync();
        Assert.Empty(list.GetProperty("data").EnumerateArray());
        Assert.Equal("pending", (await owner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
    }

    [Fact]
    public async Task List_is_newest_first_and_pages_with_an_opaque_cursor()
    {
        var partner = await api.NewPartnerAsync();
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await partner.Client.CreateOrderAsync()).Id());
        }

        var first = await (await partner.Client.GetAsync("/v1/orders?limit=2")).ShouldBeAsync(HttpStatusCode.OK);
        var second = await (await partner.Client.GetAsync($"/v1/orders?limit=2&cursor={first.GetProperty("next_cursor").GetString()}")).ReadJsonAsync();
        var third = await (await partner.Client.GetAsync($"/v1/orders?limit=2&cursor={second.GetProperty("next_cursor").GetString()}")).ReadJsonAsync();

        var seen = new[] { first, second, third }
            .SelectMany(page => page.GetProperty("data").EnumerateArray().Select(o => o.Id()))
            .ToList();
        Assert.Equal(Enumerable.Reverse(ids).ToList(), seen);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, third.GetProperty("next_cursor").ValueKind);
    }

    [Fact]
    public async Task List_filters_by_status_kind_customer_ref_and_reference()
    {
        var partner = await api.NewPartnerAsync();
        var oneTime = await partner.Client.CreateOrderAsync(NewOrder(reference: "ref-a"));
        var recurring = await partner.Client.CreateOrderAsync(NewOrder(kind: "recurring"));
        var other = NewOrder();
        other["customer"]!["ref"] = "cus_other";
        var otherCustomer = await partner.Client.CreateOrderAsync(other);

        async Task<long[]> Ids(string query) =>
            [.. (await (await partner.Client.GetAsync($"/v1/orders?{query}")).ShouldBeAsync(HttpStatusCode.OK))
                .GetProperty("data").EnumerateArray().Select(o => o.Id())];

        Assert.Equal([recurring.Id()], await Ids("status=active"));
        Assert.Equal([recurring.Id()], await Ids("kind=recurring"));
        Assert.Equal([otherCustomer.Id()], await Ids("customer_ref=cus_other"));
        Assert.Equal([oneTime.Id()], await Ids("reference=ref-a"));
        Assert.Equal([otherCustomer.Id(), oneTime.Id()], await Ids("status=pending"));
    }

    [Fact]
    public async Task List_filters_by_a_creation_window_from_inclusive_to_exclusive()
    {
        var partner = await api.NewPartnerAsync();
        var first = await partner.Client.CreateOrderAsync();
        var second = await partner.Client.CreateOrderAsync();
        var third = await partner.Client.CreateOrderAsync();
        string At(JsonElement order) => Uri.EscapeDataString(order.GetProperty("created_at").GetString()!);

        async Task<long[]> Ids(string query) =>
            [.. (await (await partner.Client.GetAsync($"/v1/orders?{query}")).ShouldBeAsync(HttpStatusCode.OK))
                .GetProperty("data").EnumerateArray().Select(o => o.Id())];

        Assert.Equal([third.Id(), second.Id()], await Ids($"created_from={At(second)}"));
        Assert.Equal([second.Id(), first.Id()], await Ids($"created_to={At(third)}"));
        Assert.Equal([second.Id()], await Ids($"created_from={At(second)}&created_to={At(third)}&status=pending"));
        Assert.Empty(await Ids($"created_from={At(second)}&created_to={At(third)}&kind=recurring"));
    }

    [Theory]
    [InlineData("created_from=yesterday", "created_from")]
    [InlineData("created_from=2026-01-01T00:00:00", "created_from")]
    [InlineData("created_from=2026-01-01", "created_from")]
    [InlineData("created_from=2026-02-01T00:00:00Z&created_to=2026-01-01T00:00:00Z", "created_to")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("status=shipped", "status")]
    [InlineData("kind=weekly", "kind")]
    public async Task List_with_a_bad_parameter_is_422_naming_it(string query, string property)
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync($"/v1/orders?{query}");

        await response.ShouldBeValidationProblemAsync(property);
    }

    [Fact]
    public async Task Pay_marks_a_pending_one_time_order_paid_and_records_order_paid()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/payments", Requests.Json("""{"method":"card","amount":30.40,"reference":"pi_1"}"""));

        var result = await response.ShouldBeAsync(HttpStatusCode.OK);
        var paid = result.GetProperty("order");
        Assert.Equal("paid", paid.GetProperty("status").GetString());
        Assert.Equal(30.40m, paid.GetProperty("amount_paid").GetDecimal());
        Assert.Equal(0m, paid.GetProperty("amount_due").GetDecimal());
        Assert.Equal("card", paid.GetProperty("payment").GetProperty("method").GetString());
        Assert.Equal("pi_1", paid.GetProperty("payment").GetProperty("reference").GetString());
        Assert.Equal(2, paid.GetProperty("version").GetInt32());
        Assert.Equal("\"2\"", response.Headers.ETag?.Tag);
        var state = await api.StateAsync(order.Id());
        Assert.Equal("order.created,order.paid", state.Events);
        var events = await (await partner.Client.GetAsync($"/v1/orders/{order.Id()}/events")).ReadJsonAsync();
        Assert.Equal(result.GetProperty("event_id").GetGuid(), events.GetProperty("data")[1].GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Pay_with_an_amount_other_than_amount_due_is_422_on_amount_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        var response = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/payments", Requests.Json("""{"method":"card","amount":30.39}"""));

        await response.ShouldBeValidationProblemAsync("amount");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Pay_a_paid_or_recurring_order_is_400_order_not_payable_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();
        var recurring = await partner.Client.CreateOrderAsync(NewOrder(kind: "recurring"));
        var paid = await partner.Client.CreateOrderAsync();
        await (await partner.Client.PostAsync($"/v1/orders/{paid.Id()}/payments", Requests.Json("""{"method":"card","amount":30.40}"""))).ShouldBeAsync(HttpStatusCode.OK);
        var recurringBefore = await api.StateAsync(recurring.Id());
        var paidBefore = await api.StateAsync(paid.Id());

        var again = await partner.Client.PostAsync($"/v1/orders/{paid.Id()}/payments", Requests.Json("""{"method":"card","amount":0}"""));
        var subscription = await partner.Client.PostAsync($"/v1/orders/{recurring.Id()}/payments", Requests.Json("""{"method":"card","amount":30.40}"""));

        await again.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_not_payable");
        await subscription.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_not_payable");
        Assert.Equal(paidBefore, await api.StateAsync(paid.Id()));
        Assert.Equal(recurringBefore, await api.StateAsync(recurring.Id()));
    }

    [Fact]
    public async Task Pay_needs_a_method_and_an_amount()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/payments", Requests.Json("{}"));

        await response.ShouldBeValidationProblemAsync("method", "amount");
    }

    [Fact]
    public async Task Duplicate_reference_is_409_per_partner_and_leaves_one_order()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        await partner.Client.CreateOrderAsync(NewOrder(reference: "cart-42"));

        var duplicate = await partner.Client.PostAsync("/v1/orders", Requests.Json(NewOrder(reference: "cart-42")));
        var elsewhere = await other.Client.PostAsync("/v1/orders", Requests.Json(NewOrder(reference: "cart-42")));

        await duplicate.ShouldBeProblemAsync(HttpStatusCode.Conflict, "duplicate_reference");
        await elsewhere.ShouldBeAsync(HttpStatusCode.Created);
        Assert.Equal(1, await api.OrderCountAsync(partner.Id));
        Assert.Equal(1, await api.EventCountAsync(partner.Id));
    }

    [Fact]
    public async Task Concurrent_creates_with_one_reference_make_one_order()
    {
        var partner = await api.NewPartnerAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(_ => partner.Client.PostAsync("/v1/orders", Requests.Json(NewOrder(reference: "race")))));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        Assert.Equal(1, await api.OrderCountAsync(partner.Id));
    }
}
