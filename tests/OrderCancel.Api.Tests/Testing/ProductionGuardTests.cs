using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>The service started with ASPNETCORE_ENVIRONMENT=Production: every /v1/test/* route is 403 and changes nothing.</summary>
public sealed class ProductionGuardTests(ProductionGuardTests.ProductionApi api) : IClassFixture<ProductionGuardTests.ProductionApi>
{
    [Theory]
    [InlineData("""{"reason":"other"}""")]
    [InlineData("""{"not_a_field": true}""")]
    public async Task A_test_cancel_in_production_is_403_test_endpoints_disabled_and_changes_nothing(string body)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());

        var response = await partner.Client.PostAsync($"/v1/test/orders/{order.Id()}/cancel", Requests.Json(body));

        await response.ShouldBeProblemAsync(HttpStatusCode.Forbidden, "test_endpoints_disabled");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Running_scheduled_changes_in_production_is_403()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(1)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        var before = await api.StateAsync(order.Id());

        var response = await partner.Client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json($$"""{"as_of":"{{Cancellations.Day(3)}}T00:00:00Z"}"""));

        await response.ShouldBeProblemAsync(HttpStatusCode.Forbidden, "test_endpoints_disabled");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Production_still_asks_for_a_key_first()
    {
        var response = await api.ClientWithKey(null).PostAsync("/v1/test/orders/1/cancel", null);

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Production_refuses_http_webhook_urls_even_to_loopback()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.PostAsync("/v1/webhooks", Requests.Json("""{"url":"http://127.0.0.1:9/hook","events":["*"]}"""));

        await response.ShouldBeValidationProblemAsync("url");
    }

    public sealed class ProductionApi : ApiFactory
    {
        protected override string HostEnvironment => "Production";

        // Production's own default: no insecure loopback webhooks.
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Webhooks:AllowInsecureLoopback"] = null,
        };
    }
}
