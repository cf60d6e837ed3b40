using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §7: keys stored as hashes, admin routes, and who may call what.</summary>
[Collection(SharedApi.Name)]
public sealed class PartnersAndKeysTests(ApiFactory api)
{
    [Fact]
    public async Task No_key_is_401_unauthenticated_with_a_bearer_challenge()
    {
        var response = await api.ClientWithKey(null).GetAsync("/v1/orders");

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Theory]
    [InlineData("Bearer oc_not_a_key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task An_unknown_key_or_another_scheme_is_401(string header)
    {
        var client = api.ClientWithKey(null);
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", header);

        var response = await client.PostAsync("/v1/orders", Requests.Json(TestOrders.NewOrder()));

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Creating_a_partner_shows_its_key_once_and_stores_only_a_hash()
    {
        var response = await api.AdminClient().PostAsJsonAsync("/v1/admin/partners", new { name = "Acme Insurance" });

        var partner = await response.ShouldBeAsync(HttpStatusCode.Created);
        var key = partner.GetProperty("api_key").GetProperty("key").GetString()!;
        var keyId = partner.GetProperty("api_key").GetProperty("id").GetGuid();
        Assert.Equal("Acme Insurance", partner.GetProperty("name").GetString());
        Assert.StartsWith("oc_", key);
        var stored = await api.WithDbAsync(db => db.ApiKeys.SingleAsync(k => k.Id == keyId));
        Assert.Equal(32, stored.Hash.Length);
        Assert.DoesNotContain(key, Convert.ToBase64String(stored.Hash));
        await (await api.ClientWithKey(key).GetAsync("/v1/orders")).ShouldBeAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_second_key_works_and_a_revoked_key_gets_401()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var issued = await (await api.AdminClient().PostAsync($"/v1/admin/partners/{partner.Id}/keys", null)).ShouldBeAsync(HttpStatusCode.Created);
        var second = api.ClientWithKey(issued.GetProperty("key").GetString());
        await second.GetOrderAsync(order.Id());

        var revoked = await api.AdminClient().DeleteAsync($"/v1/admin/keys/{partner.KeyId}");

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await (await partner.Client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await second.GetOrderAsync(order.Id());
    }

    [Fact]
    public async Task Unknown_partner_or_key_on_admin_routes_is_404_not_found()
    {
        var admin = api.AdminClient();

        await (await admin.PostAsync($"/v1/admin/partners/{Guid.NewGuid()}/keys", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await admin.DeleteAsync($"/v1/admin/keys/{Guid.NewGuid()}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task A_partner_key_on_an_admin_route_is_403_and_the_admin_key_on_a_partner_route_too()
    {
        var partner = await api.NewPartnerAsync();

        var asPartner = await partner.Client.PostAsJsonAsync("/v1/admin/partners", new { name = "sneaky" });
        var asAdmin = await api.AdminClient().GetAsync("/v1/orders");

        await asPartner.ShouldBeProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await asAdmin.ShouldBeProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.False(await api.WithDbAsync(db => db.Partners.AnyAsync(p => p.Name == "sneaky")));
    }

    [Fact]
    public async Task A_partner_needs_a_name()
    {
        var response = await api.AdminClient().PostAsync("/v1/admin/partners", Requests.Json("{}"));

        await response.ShouldBeValidationProblemAsync("name");
    }

    [Fact]
    public async Task Authentication_comes_before_body_checks()
    {
        var response = await api.ClientWithKey(null).PostAsync("/v1/orders", Requests.Json("not json"));

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }
}
