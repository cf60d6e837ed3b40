using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>Health, Swagger and the problem answers the framework gives for unknown routes.</summary>
[Collection(SharedApi.Name)]
public sealed class ServiceTests(ApiFactory api)
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_needs_no_key_and_is_healthy(string path)
    {
        var response = await api.ClientWithKey(null).GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Swagger_documents_every_route_with_a_bearer_scheme_and_problem_responses()
    {
        var client = api.ClientWithKey(null);

        var document = await (await client.GetAsync("/swagger/v1/swagger.json")).ShouldBeAsync(HttpStatusCode.OK);
        var ui = await client.GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        var paths = document.GetProperty("paths");
        foreach (var path in new[]
        {
            "/v1/orders", "/v1/orders/{id}", "/v1/orders/{id}/payments", "/v1/orders/{id}/events", "/v1/orders/{id}/cancel",
            "/v1/orders/{id}/cancel/preview", "/v1/orders/{id}/scheduled-cancellation", "/v1/orders/{id}/reactivate",
            "/v1/orders/{id}/scheduled-reactivation", "/v1/test/orders/{id}/cancel", "/v1/test/scheduled-changes/run",
            "/v1/admin/partners", "/v1/admin/partners/{id}/keys", "/v1/admin/keys/{keyId}",
        })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is not documented");
        }

        Assert.Equal("bearer", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString());
        var create = paths.GetProperty("/v1/orders").GetProperty("post");
        Assert.True(create.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.Contains("duplicate_reference", create.GetProperty("responses").GetProperty("409").GetProperty("description").GetString());
        var cancel = paths.GetProperty("/v1/orders/{id}/cancel").GetProperty("post");
        Assert.EndsWith("/OrderChangeResponse", cancel.GetProperty("responses").GetProperty("202").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        Assert.True(cancel.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        var reactivate = paths.GetProperty("/v1/orders/{id}/reactivate").GetProperty("post");
        Assert.False(reactivate.GetProperty("requestBody").TryGetProperty("required", out var required) && required.GetBoolean());
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("CreateOrderRequest").GetProperty("properties").TryGetProperty("shipping_cost", out _));
    }

    [Fact]
    public async Task An_unknown_route_is_a_404_problem()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync("/v1/nothing-here");

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
    }
}
