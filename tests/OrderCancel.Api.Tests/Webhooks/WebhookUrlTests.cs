using System.Net;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Tests;

/// <summary>
/// In Production (no insecure loopback) a webhook URL may only reach a globally reachable address: every form below
/// was accepted once. The connect-time guard judges resolved addresses by the same rules.
/// </summary>
public sealed class WebhookUrlTests
{
    [Theory]
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
}
