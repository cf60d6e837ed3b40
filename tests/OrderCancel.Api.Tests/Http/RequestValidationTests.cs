using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §1 and §6: strict bodies, each refusal with its code, and nothing written.</summary>
[Collection(SharedApi.Name)]
public sealed class RequestValidationTests(ApiFactory api)
{
    [Fact]
    public async Task Unknown_properties_are_422_naming_each_one_and_nothing_is_created()
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder();
        body["colour"] = "red";
        body["customer"]!["nickname"] = "Ada";
        body["lines"]![0]!["effective_dat"] = "2030-01-01";

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        await response.ShouldBeValidationProblemAsync("colour", "customer.nickname", "lines[0].effective_dat");
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
        Assert.Equal(0, await api.EventCountAsync(partner.Id));
    }

    [Fact]
    public async Task Wrong_types_are_422_naming_each_property()
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder();
        body["kind"] = "weekly";
        body["shipping_cost"] = "4.90";
        body["lines"]![1]!["quantity"] = 1.5;
        body["customer"] = "Ada";

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        var problem = await response.ShouldBeValidationProblemAsync("kind", "shipping_cost", "lines[1].quantity", "customer");
        Assert.Contains("one_time", problem.GetProperty("errors").GetProperty("kind")[0].GetString());
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task Missing_required_properties_are_all_listed()
    {
        var partner = await api.NewPartnerAsync();
        var body = new JsonObject { ["lines"] = new JsonArray(new JsonObject { ["sku"] = "A" }) };

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        await response.ShouldBeValidationProblemAsync("kind", "currency", "customer", "lines[0].name", "lines[0].quantity", "lines[0].unit_price");
    }

    [Theory]
    [InlineData("JPY", "100.5")]
    [InlineData("EUR", "1.001")]
    [InlineData("KWD", "1.0005")]
    public async Task Money_with_more_decimals_than_the_currency_allows_is_422(string currency, string price)
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder(currency: currency, shippingCost: 0m, lines: [Line("A", 1, 1m)]);
        body["lines"]![0]!["unit_price"] = JsonNode.Parse(price);

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        await response.ShouldBeValidationProblemAsync("lines[0].unit_price");
    }

    [Theory]
    [InlineData("recurring", null, "billing_period")]
    [InlineData("one_time", "monthly", "billing_period")]
    public async Task Billing_period_goes_with_recurring_orders_only(string kind, string? period, string property)
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder();
        body["kind"] = kind;
        body["billing_period"] = period;

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        await response.ShouldBeValidationProblemAsync(property);
    }

    [Fact]
    public async Task Unknown_currency_time_zone_and_bad_email_are_422()
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder(currency: "EURO", timeZone: "Mars/Olympus");
        body["customer"]!["email"] = "not-an-email";

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        await response.ShouldBeValidationProblemAsync("currency", "time_zone", "customer.email");
    }

    [Fact]
    public async Task Line_rules_quantity_discount_tax_rate_and_count_are_checked()
    {
        var partner = await api.NewPartnerAsync();
        var none = NewOrder();
        none["lines"] = new JsonArray();
        var bad = NewOrder(lines: [Line("A", 0, 10m), Line("B", 2, 10m, discount: 20.01m), Line("C", 1, -1m, taxRate: 1.5m)]);

        await (await partner.Client.PostAsync("/v1/orders", Requests.Json(none))).ShouldBeValidationProblemAsync("lines");
        await (await partner.Client.PostAsync("/v1/orders", Requests.Json(bad)))
            .ShouldBeValidationProblemAsync("lines[0].quantity", "lines[1].discount", "lines[2].unit_price", "lines[2].tax_rate");
    }

    [Fact]
    public async Task An_order_may_have_500_lines_but_not_501()
    {
        var partner = await api.NewPartnerAsync();

        var most = NewOrder(lines: [.. Enumerable.Range(0, 500).Select(i => Line($"S{i}", 1, 1m))]);
        var tooMany = NewOrder(lines: [.. Enumerable.Range(0, 501).Select(i => Line($"S{i}", 1, 1m))]);

        await (await partner.Client.PostAsync("/v1/orders", Requests.Json(most))).ShouldBeAsync(HttpStatusCode.Created);
        await (await partner.Client.PostAsync("/v1/orders", Requests.Json(tooMany))).ShouldBeValidationProblemAsync("lines");
    }

    [Theory]
    [InlineData("{\"kind\": ")]
    [InlineData("[]")]
    [InlineData("\"order\"")]
    [InlineData("null")]
    [InlineData("")]
    public async Task A_body_that_is_not_a_json_object_is_400_malformed_json(string text)
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(text));

        await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task A_body_that_is_not_application_json_is_415()
    {
        var partner = await api.NewPartnerAsync();
        var content = new StringContent(NewOrder().ToJsonString(), Encoding.UTF8, "text/plain");

        var response = await partner.Client.PostAsync("/v1/orders", content);

        await response.ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task A_body_over_1_MiB_is_413_even_when_its_length_is_not_announced()
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder();
        body["metadata"] = new JsonObject { ["blob"] = new string('x', 1024 * 1024) };
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        var announced = new ByteArrayContent(bytes);
        announced.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = new StreamContent(new MemoryStream(bytes)) };
        chunked.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        chunked.Headers.TransferEncodingChunked = true;

        await (await partner.Client.PostAsync("/v1/orders", announced)).ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        await (await partner.Client.SendAsync(chunked)).ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task Validation_comes_before_existence()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.PostAsync("/v1/orders/987654321/payments", Requests.Json("""{"method":"card","amount":"ten"}"""));

        await response.ShouldBeValidationProblemAsync("amount");
    }
}
