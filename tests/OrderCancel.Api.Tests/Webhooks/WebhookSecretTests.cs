using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>Signing secrets are encrypted at rest, and a rotation signs with both secrets for 24 hours.</summary>
[Collection(SharedApi.Name)]
public sealed class WebhookSecretTests(ApiFactory api)
{
    [Fact]
    public async Task A_dump_of_the_endpoints_table_holds_no_secret()
    {
        var partner = await api.NewPartnerAsync();
        var (_, secret) = await WebhookTests.RegisterAsync(partner, "https://partner.example/hooks", "*");
        var rotated = await (await partner.Client.PostAsync($"/v1/webhooks/{(await EndpointIdAsync(partner))}/rotate-secret", null)).ShouldBeAsync(HttpStatusCode.OK);

        var dump = await DumpAsync(partner.Id);

        Assert.DoesNotContain(secret["whsec_".Length..], dump, StringComparison.Ordinal);
        Assert.DoesNotContain(rotated.GetProperty("secret").GetString()!["whsec_".Length..], dump, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_rotation_deliveries_carry_both_signatures_until_the_overlap_ends()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var (endpointId, oldSecret) = await WebhookTests.RegisterAsync(partner, receiver.Url, "order.cancelled");

        var rotation = await (await partner.Client.PostAsync($"/v1/webhooks/{endpointId}/rotate-secret", null)).ShouldBeAsync(HttpStatusCode.OK);
        var newSecret = rotation.GetProperty("secret").GetString()!;
        await (await partner.Client.CancelAsync((await partner.Client.CreateOrderAsync()).Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var during = Assert.Single(await receiver.WaitForAsync(r => r.Count >= 1));

        await api.WithDbAsync(db => db.WebhookEndpoints.Where(w => w.Id == endpointId)
            .ExecuteUpdateAsync(set => set.SetProperty(w => w.PreviousSecretUntil, DateTimeOffset.UtcNow.AddSeconds(-1))));
        await (await partner.Client.CancelAsync((await partner.Client.CreateOrderAsync()).Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var after = (await receiver.WaitForAsync(r => r.Count >= 2))[1];

        Assert.NotEqual(oldSecret, newSecret);
        Assert.True(rotation.GetProperty("previous_secret_expires_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddHours(23));
        Assert.Equal(2, during.Signature.Split(' ').Length);
        Assert.True(WebhookTests.Verifies(during, oldSecret), "The old secret's signature is missing during the overlap.");
        Assert.True(WebhookTests.Verifies(during, newSecret), "The new secret's signature is missing during the overlap.");
        Assert.Single(after.Signature.Split(' '));
        Assert.True(WebhookTests.Verifies(after, newSecret));
        Assert.False(WebhookTests.Verifies(after, oldSecret));
    }

    [Fact]
    public async Task Another_partners_endpoint_cannot_be_rotated()
    {
        var owner = await api.NewPartnerAsync();
        var stranger = await api.NewPartnerAsync();
        var (endpointId, _) = await WebhookTests.RegisterAsync(owner, "https://partner.example/hooks", "*");
        var before = await DumpAsync(owner.Id);

        var response = await stranger.Client.PostAsync($"/v1/webhooks/{endpointId}/rotate-secret", null);

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        Assert.Equal(before, await DumpAsync(owner.Id));
    }

    private Task<Guid> EndpointIdAsync(TestPartner partner) =>
        api.WithDbAsync(db => db.WebhookEndpoints.Where(w => w.PartnerId == partner.Id).Select(w => w.Id).SingleAsync());

    /// <summary>What <c>pg_dump</c> of the partner's rows of <c>webhook_endpoints</c> would hold.</summary>
    private async Task<string> DumpAsync(Guid partnerId)
    {
        await using var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT coalesce(string_agg(row_to_json(w)::text, E'\\n'), '') FROM webhook_endpoints w WHERE partner_id = $1", connection)
        {
            Parameters = { new NpgsqlParameter<Guid> { TypedValue = partnerId } },
        };
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
