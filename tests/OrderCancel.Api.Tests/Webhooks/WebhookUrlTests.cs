using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Tests;

/// <summary>
/// In Production (no insecure loopback) a webhook URL may only reach a globally reachable address: every form below
/// was accepted once. The connect-time guard judges resolved addresses by the same rules.
/// </summary>
public sealed class WebhookUrlTests(WebhookUrlTests.NoInsecureLoopbackApi api) : IClassFixture<WebhookUrlTests.NoInsecureLoopbackApi>
{
    [Theory]
    [InlineData("https://127.0.0.1./hook")] // an IP literal with the final dot of a name
    [InlineData("https://①②⑦.0.0.1/hook")] // IDNA maps the circled digits to 127.0.0.1
    [InlineData("https://127。0。0。1/hook")] // ideographic full stops: 127.0.0.1 after IDNA
    [InlineData("https://①②⑦.1/hook")] // 127.1, which is 127.0.0.1
    [InlineData("https://ｌｏｃａｌｈｏｓｔ/hook")] // fullwidth letters: localhost after IDNA
    [InlineData("https://[::ffff:0:7f00:1]/hook")] // IPv4-translated form of 127.0.0.1
    [InlineData("https://[::ffff:0:a9fe:a9fe]/hook")] // IPv4-translated form of 169.254.169.254
    [InlineData("https://[64:ff9b::a9fe:a9fe]/hook")] // NAT64 form of 169.254.169.254
    [InlineData("https://[2002:a9fe:a9fe::]/hook")] // 6to4 form of 169.254.169.254
    [InlineData("https://[::a9fe:a9fe]/hook")] // IPv4-compatible form of 169.254.169.254
    [InlineData("https://[::ffff:169.254.169.254]/hook")] // IPv4-mapped
    [InlineData("https://[::ffff:10.0.0.1]/hook")]
    [InlineData("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook")] // Teredo
    [InlineData("https://[64:ff9b:1::a]/hook")] // local-use NAT64
    [InlineData("https://[fd00::1]/hook")]
    [InlineData("https://[fe80::1]/hook")]
    [InlineData("https://[ff02::1]/hook")]
    [InlineData("https://[2001:db8::1]/hook")]
    [InlineData("https://[::1]/hook")]
    [InlineData("https://[::]/hook")]
    [InlineData("https://169.254.169.254/hook")]
    [InlineData("https://198.18.0.1/hook")]
    [InlineData("https://192.0.0.1/hook")]
    [InlineData("https://192.0.2.1/hook")]
    [InlineData("https://100.64.0.1/hook")]
    [InlineData("https://224.0.0.1/hook")]
    [InlineData("https://239.255.255.250/hook")]
    [InlineData("https://240.0.0.1/hook")]
    [InlineData("https://255.255.255.255/hook")]
    [InlineData("https://0.0.0.0/hook")]
    [InlineData("https://10.1.2.3/hook")]
    [InlineData("https://172.16.0.1/hook")]
    [InlineData("https://192.168.1.1/hook")]
    [InlineData("https://127.0.0.1/hook")]
    [InlineData("https://localhost/hook")]
    [InlineData("https://localhost./hook")]
    [InlineData("https://LOCALHOST/hook")]
    [InlineData("https://api.localhost/hook")]
    [InlineData("https://localhost.localdomain/hook")]
    [InlineData("https://localhost.localdomain./hook")]
    public void A_url_that_reaches_a_non_public_place_is_refused_in_production(string url) =>
        Assert.NotNull(WebhookUrls.Problem(url, allowInsecureLoopback: false));

    [Theory]
    [InlineData("https://partner.example/hooks")]
    [InlineData("https://93.184.216.34/hooks")]
    [InlineData("https://[2606:4700:4700::1111]/hooks")]
    [InlineData("https://[64:ff9b::5db8:d822]/hooks")] // NAT64 form of 93.184.216.34
    [InlineData("https://localhostish.example/hooks")]
    [InlineData("https://bücher.example/hooks")] // an internationalised name: judged as xn--bcher-kva.example
    [InlineData("https://[::ffff:0:5db8:d822]/hooks")] // IPv4-translated form of 93.184.216.34
    [InlineData("https://partner.example:8443/hooks")]
    public void A_url_to_a_public_place_is_accepted(string url) =>
        Assert.Null(WebhookUrls.Problem(url, allowInsecureLoopback: false));

    [Theory]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("2002:a9fe:a9fe::")]
    [InlineData("::a9fe:a9fe")]
    [InlineData("198.18.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("ff05::2")]
    [InlineData("::ffff:0:7f00:1")] // IPv4-translated 127.0.0.1
    [InlineData("::ffff:0:a00:1")] // IPv4-translated 10.0.0.1
    public void The_connect_time_guard_refuses_the_same_addresses(string address) =>
        Assert.False(WebhookUrls.IsGloballyReachable(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://localhost:8080/hook")]
    [InlineData("http://127.0.0.1:8080/hook")]
    [InlineData("http://[::1]:8080/hook")]
    public void Loopback_over_http_is_accepted_only_where_insecure_loopback_is_allowed(string url)
    {
        Assert.Null(WebhookUrls.Problem(url, allowInsecureLoopback: true));
        Assert.NotNull(WebhookUrls.Problem(url, allowInsecureLoopback: false));
    }

    /// <summary>
    /// What the sender would not send as written: the URL parser drops outer spaces and escapes control characters
    /// (the stored URL would not be the one used), and port 0 is no port.
    /// </summary>
    [Theory]
    [InlineData("https://example.com/\r\nX-Injected: 1")]
    [InlineData("https://example.com/hook\n")]
    [InlineData("https://example.com/a\tb")]
    [InlineData(" https://example.com/hook")]
    [InlineData("https://example.com/hook ")]
    [InlineData("https://example.com/a b")]
    [InlineData("https://example.com:0/hook")]
    public void A_url_the_sender_would_not_use_as_written_is_refused(string url)
    {
        Assert.NotNull(WebhookUrls.Problem(url, allowInsecureLoopback: false));
        Assert.NotNull(WebhookUrls.Problem(url, allowInsecureLoopback: true));
    }

    [Theory]
    [InlineData("https://example.com/\r\nX-Injected: 1")]
    [InlineData(" https://example.com/hook")]
    [InlineData("https://example.com/hook ")]
    [InlineData("https://example.com:0/hook")]
    [InlineData("https://127.0.0.1./hook")]
    [InlineData("https://①②⑦.0.0.1/hook")]
    [InlineData("https://127。0。0。1/hook")]
    [InlineData("https://[::ffff:0:7f00:1]/hook")]
    public async Task Registering_such_a_url_is_422_on_url_and_stores_nothing(string url)
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.PostAsync("/v1/webhooks", Requests.Json(new JsonObject { ["url"] = url, ["events"] = new JsonArray("*") }));

        await response.ShouldBeValidationProblemAsync("url");
        Assert.Equal(0, await api.WithDbAsync(db => db.WebhookEndpoints.CountAsync(w => w.PartnerId == partner.Id)));
    }

    [Fact]
    public async Task A_registered_url_is_stored_as_the_partner_sent_it()
    {
        var partner = await api.NewPartnerAsync();
        const string url = "https://Partner.Example:8443/hooks/ordercancel?token=a%20b";

        var response = await partner.Client.PostAsync("/v1/webhooks", Requests.Json(new JsonObject { ["url"] = url, ["events"] = new JsonArray("*") }));

        var created = await response.ShouldBeAsync(HttpStatusCode.Created);
        Assert.Equal(url, created.GetProperty("url").GetString());
        Assert.Equal(url, await api.WithDbAsync(db => db.WebhookEndpoints.Where(w => w.PartnerId == partner.Id).Select(w => w.Url).SingleAsync()));
    }

    /// <summary>Production's rule: no insecure loopback, so a URL that reaches this machine is refused.</summary>
    public sealed class NoInsecureLoopbackApi : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Webhooks:AllowInsecureLoopback"] = "false",
        };
    }
}
