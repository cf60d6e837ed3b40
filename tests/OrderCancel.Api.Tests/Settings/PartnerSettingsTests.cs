using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §11: GET/PATCH /v1/settings (merge patch, If-Match), the admin's routes, the event, isolation.</summary>
[Collection(SharedApi.Name)]
public sealed class PartnerSettingsTests(ApiFactory api)
{
    [Fact]
    public async Task A_new_partner_has_the_defaults_of_spec_section_3()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync("/v1/settings");
        var settings = await response.ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal(JsonValueKind.Null, settings.GetProperty("unpaid_order_ttl").ValueKind);
        Assert.Equal(JsonValueKind.Null, settings.GetProperty("cancellation_window").ValueKind);
        Assert.Equal("keep", settings.GetProperty("shipping_on_partial_cancel").GetString());
        Assert.Equal(1, settings.GetProperty("version").GetInt32());
        Assert.Equal(JsonValueKind.Null, settings.GetProperty("updated_at").ValueKind);
        Assert.Equal("\"1\"", response.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task A_merge_patch_changes_what_it_names_bumps_the_version_and_writes_one_event()
    {
        var partner = await api.NewPartnerAsync();

        var first = await PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT15M"}""", contentType: "application/merge-patch+json");
        var firstBody = await first.ShouldBeAsync(HttpStatusCode.OK);
        var second = await (await PatchAsync(partner.Client, """{"cancellation_window":"P1D","shipping_on_partial_cancel":"release"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var third = await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":null}""")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal("\"2\"", first.Headers.ETag?.ToString());
        Assert.Equal("PT15M", firstBody.GetProperty("unpaid_order_ttl").GetString());
        Assert.Equal(JsonValueKind.Null, firstBody.GetProperty("cancellation_window").ValueKind);
        Assert.Equal("PT15M", second.GetProperty("unpaid_order_ttl").GetString());
        Assert.Equal("P1D", second.GetProperty("cancellation_window").GetString());
        Assert.Equal("release", second.GetProperty("shipping_on_partial_cancel").GetString());
        Assert.Equal(JsonValueKind.Null, third.GetProperty("unpaid_order_ttl").ValueKind);
        Assert.Equal("P1D", third.GetProperty("cancellation_window").GetString());
        Assert.Equal(4, third.GetProperty("version").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, third.GetProperty("updated_at").ValueKind);

        var events = await SettingsEventsAsync(partner.Id);
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal($"api_key:{partner.KeyId}", e.Actor));
        var data = JsonDocument.Parse(events[0].Data).RootElement;
        Assert.Equal(partner.Id, data.GetProperty("partner_id").GetGuid());
        Assert.Equal("PT15M", data.GetProperty("settings").GetProperty("unpaid_order_ttl").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("previous").GetProperty("unpaid_order_ttl").ValueKind);
        Assert.Equal(1, data.GetProperty("previous").GetProperty("version").GetInt32());
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"unpaid_order_ttl":null,"shipping_on_partial_cancel":"keep"}""")]
    [InlineData("""{"cancellation_window":"PT1H"}""")]
    public async Task A_patch_that_changes_nothing_writes_nothing(string patch)
    {
        var partner = await api.NewPartnerAsync();
        await (await PatchAsync(partner.Client, """{"cancellation_window":"PT1H"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var response = await PatchAsync(partner.Client, patch);

        var settings = await response.ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(2, settings.GetProperty("version").GetInt32());
        Assert.Equal("PT1H", settings.GetProperty("cancellation_window").GetString());
        Assert.Single(await SettingsEventsAsync(partner.Id));
    }

    [Fact]
    public async Task A_patch_with_a_stale_if_match_is_412_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();
        await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT30M"}""", ifMatch: "\"1\"")).ShouldBeAsync(HttpStatusCode.OK);

        var stale = await PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT5M"}""", ifMatch: "\"1\"");

        await stale.ShouldBeProblemAsync(HttpStatusCode.PreconditionFailed, "version_mismatch");
        var settings = await (await partner.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal("PT30M", settings.GetProperty("unpaid_order_ttl").GetString());
        Assert.Equal(2, settings.GetProperty("version").GetInt32());
        Assert.Single(await SettingsEventsAsync(partner.Id));
        await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT5M"}""", ifMatch: "\"2\"")).ShouldBeAsync(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("""{"unpaid_order_ttl":"P1M"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"P1Y"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"PT59S"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"P91D"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"P13W"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"-PT1H"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"PT1.5H"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"P"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"PT"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"15 minutes"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"P99999999999D"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":900}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"P\u0661W"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"PT\u0661\u0665M"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":"PT15M\n"}""", "unpaid_order_ttl")]
    [InlineData("""{"unpaid_order_ttl":" PT15M"}""", "unpaid_order_ttl")]
    [InlineData("""{"cancellation_window":"P366D"}""", "cancellation_window")]
    [InlineData("""{"cancellation_window":"PT0S"}""", "cancellation_window")]
    [InlineData("""{"shipping_on_partial_cancel":"sometimes"}""", "shipping_on_partial_cancel")]
    [InlineData("""{"unpaid_order_tll":"PT15M"}""", "unpaid_order_tll")]
    [InlineData("""{"version":7}""", "version")]
    public async Task A_malformed_patch_is_422_naming_the_property_and_changes_nothing(string patch, string property)
    {
        var partner = await api.NewPartnerAsync();

        await (await PatchAsync(partner.Client, patch)).ShouldBeValidationProblemAsync(property);

        var settings = await (await partner.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(1, settings.GetProperty("version").GetInt32());
        Assert.Empty(await SettingsEventsAsync(partner.Id));
    }

    [Fact]
    public async Task Durations_are_answered_in_one_canonical_form()
    {
        var partner = await api.NewPartnerAsync();

        var settings = await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":"P2W","cancellation_window":"P1DT12H"}""")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal("P14D", settings.GetProperty("unpaid_order_ttl").GetString());
        Assert.Equal("P1DT12H", settings.GetProperty("cancellation_window").GetString());
    }

    /// <summary>
    /// One spelling per value: hours 0-23, minutes and seconds 0-59, no zero parts or leading zeros, and weeks only
    /// alone (ISO 8601 has <c>PnW</c> only by itself). Any other spelling is a 422 that names the one to send.
    /// </summary>
    [Theory]
    [InlineData("unpaid_order_ttl", "P89DT23H59M60S", "P90D")]
    [InlineData("unpaid_order_ttl", "P1W2D", "P9D")]
    [InlineData("unpaid_order_ttl", "P1DT24H", "P2D")]
    [InlineData("unpaid_order_ttl", "PT60M", "PT1H")]
    [InlineData("unpaid_order_ttl", "PT90S", "PT1M30S")]
    [InlineData("unpaid_order_ttl", "PT015M", "PT15M")]
    [InlineData("unpaid_order_ttl", "P0DT15M", "PT15M")]
    [InlineData("cancellation_window", "PT36H", "P1DT12H")]
    [InlineData("cancellation_window", "P1DT0H", "P1D")]
    [InlineData("cancellation_window", "P01W", "P7D")]
    public async Task A_duration_in_another_spelling_is_422_naming_the_canonical_one_and_changes_nothing(string property, string duration, string canonical)
    {
        var partner = await api.NewPartnerAsync();

        var response = await PatchAsync(partner.Client, $$"""{"{{property}}":"{{duration}}"}""");

        var problem = await response.ShouldBeValidationProblemAsync(property);
        Assert.Contains(canonical, problem.GetProperty("errors").GetProperty(property)[0].GetString(), StringComparison.Ordinal);
        var settings = await (await partner.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(1, settings.GetProperty("version").GetInt32());
        Assert.Empty(await SettingsEventsAsync(partner.Id));
    }

    /// <summary>
    /// A JSON Patch (RFC 6902) is another kind of document: only application/merge-patch+json and application/json are
    /// read as a merge patch, and anything else is 415 before its body is looked at.
    /// </summary>
    [Theory]
    [InlineData("application/json-patch+json", """{"unpaid_order_ttl":"PT15M"}""", "/v1/settings")]
    [InlineData("application/json-patch+json", """[{"op":"replace","path":"/unpaid_order_ttl","value":"PT15M"}]""", "/v1/settings")]
    [InlineData("application/json-patch+json", """{"unpaid_order_ttl":""", "/v1/settings")]
    [InlineData("application/vnd.api+json", """{"unpaid_order_ttl":"PT15M"}""", "/v1/settings")]
    [InlineData("application/json-patch+json", """{"unpaid_order_ttl":"PT15M"}""", "/v1/admin/partners/{id}/settings")]
    public async Task A_patch_that_is_not_a_merge_patch_is_415_and_changes_nothing(string contentType, string body, string path)
    {
        var partner = await api.NewPartnerAsync();
        var client = path.StartsWith("/v1/admin", StringComparison.Ordinal) ? api.AdminClient() : partner.Client;

        var response = await PatchAsync(client, body, contentType: contentType, path: path.Replace("{id}", partner.Id.ToString(), StringComparison.Ordinal));

        await response.ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        var settings = await (await partner.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(1, settings.GetProperty("version").GetInt32());
        Assert.Equal(JsonValueKind.Null, settings.GetProperty("unpaid_order_ttl").ValueKind);
        Assert.Empty(await SettingsEventsAsync(partner.Id));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_refused_before_anything_else()
    {
        var partner = await api.NewPartnerAsync();

        await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":""", contentType: "application/merge-patch+json")).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT1H"}""", contentType: "text/plain")).ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");

        Assert.Empty(await SettingsEventsAsync(partner.Id));
    }

    [Fact]
    public async Task The_admin_reads_and_patches_any_partners_settings_and_the_event_says_admin()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        var admin = api.AdminClient();

        var patched = await (await PatchAsync(admin, """{"cancellation_window":"PT2H"}""", path: $"/v1/admin/partners/{partner.Id}/settings")).ShouldBeAsync(HttpStatusCode.OK);
        var read = await (await admin.GetAsync($"/v1/admin/partners/{partner.Id}/settings")).ShouldBeAsync(HttpStatusCode.OK);
        var seenByPartner = await (await partner.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);
        var otherSettings = await (await other.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);

        Assert.Equal("PT2H", patched.GetProperty("cancellation_window").GetString());
        Assert.Equal("PT2H", read.GetProperty("cancellation_window").GetString());
        Assert.Equal("PT2H", seenByPartner.GetProperty("cancellation_window").GetString());
        Assert.Equal(JsonValueKind.Null, otherSettings.GetProperty("cancellation_window").ValueKind);
        Assert.Equal("admin", Assert.Single(await SettingsEventsAsync(partner.Id)).Actor);
        Assert.Empty(await SettingsEventsAsync(other.Id));
    }

    [Fact]
    public async Task Another_partners_settings_are_unreachable()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();

        await (await partner.Client.GetAsync($"/v1/admin/partners/{other.Id}/settings")).ShouldBeProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT1M"}""", path: $"/v1/admin/partners/{other.Id}/settings"))
            .ShouldBeProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await api.AdminClient().GetAsync("/v1/settings")).ShouldBeProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await api.AdminClient().GetAsync($"/v1/admin/partners/{Guid.NewGuid()}/settings")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await PatchAsync(api.AdminClient(), """{"unpaid_order_ttl":"PT1M"}""", path: $"/v1/admin/partners/{Guid.NewGuid()}/settings"))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");

        var otherSettings = await (await other.Client.GetAsync("/v1/settings")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(1, otherSettings.GetProperty("version").GetInt32());
        Assert.Empty(await SettingsEventsAsync(other.Id));
    }

    [Fact]
    public async Task A_settings_change_is_delivered_to_a_subscribed_endpoint()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        await WebhookTests.RegisterAsync(partner, receiver.Url, "partner.settings_changed");

        await (await PatchAsync(partner.Client, """{"shipping_on_partial_cancel":"release_when_empty"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var delivered = Assert.Single(await receiver.WaitForAsync(r => r.Count >= 1));
        var body = JsonDocument.Parse(delivered.Body).RootElement;
        Assert.Equal("partner.settings_changed", body.GetProperty("type").GetString());
        Assert.Equal(delivered.Id, body.GetProperty("id").GetString());
        Assert.Equal("release_when_empty", body.GetProperty("data").GetProperty("settings").GetProperty("shipping_on_partial_cancel").GetString());
        Assert.Equal("keep", body.GetProperty("data").GetProperty("previous").GetProperty("shipping_on_partial_cancel").GetString());
    }

    [Fact]
    public async Task Concurrent_patches_with_the_same_if_match_let_exactly_one_through()
    {
        var partner = await api.NewPartnerAsync();

        var responses = await Task.WhenAll(Enumerable.Range(1, 10).Select(i =>
            PatchAsync(partner.Client, $$"""{"unpaid_order_ttl":"PT{{i}}M"}""", ifMatch: "\"1\"")));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(9, responses.Count(r => r.StatusCode == HttpStatusCode.PreconditionFailed));
        Assert.Single(await SettingsEventsAsync(partner.Id));
    }

    public static Task<HttpResponseMessage> PatchAsync(
        HttpClient client, string body, string? ifMatch = null, string contentType = "application/json", string path = "/v1/settings")
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return client.SendAsync(request);
    }

    private Task<List<SettingsEvent>> SettingsEventsAsync(Guid partnerId) =>
        api.WithDbAsync(db => db.Events
            .Where(e => e.PartnerId == partnerId && e.Type == "partner.settings_changed")
            .OrderBy(e => e.Sequence)
            .Select(e => new SettingsEvent(e.Actor, e.Data))
            .ToListAsync());

    private sealed record SettingsEvent(string Actor, string Data);
}
