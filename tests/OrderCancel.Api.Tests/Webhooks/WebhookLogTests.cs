using System.Net;
using System.Net.Sockets;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A webhook URL may carry a partner's token, so neither it nor its host or port is ever logged (README): an attempt
/// that gets no answer logs what kind of failure it was, never the connection error's message, which names them.
/// </summary>
public sealed class WebhookLogTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const string UnresolvableHost = "ordercancel-no-such-host.invalid";

    [Fact]
    public async Task Failed_attempts_log_the_kind_of_failure_and_never_the_webhook_host_or_port()
    {
        var closedPort = ClosedPort();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>
        {
            ["Database__MigrateOnStartup"] = "false",
            ["Serilog__MinimumLevel__Default"] = "Information",
            ["Webhooks__AllowInsecureLoopback"] = "true",
            ["Webhooks__PollInterval"] = "00:00:00.100",
            ["Webhooks__Timeout"] = "00:00:05",
        });
        var partner = await database.NewPartnerAsync();
        var client = service.Client(partner.Key);
        foreach (var url in new[] { $"http://127.0.0.1:{closedPort}/hooks", $"https://{UnresolvableHost}:8443/hooks" })
        {
            await (await client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{url}}","events":["*"]}"""))).ShouldBeAsync(HttpStatusCode.Created);
        }

        await client.CreateOrderAsync();
        // One attempt to each endpoint, whatever it logged.
        await Eventually.TrueAsync(
            () => service.Output().Split("Webhook attempt").Length - 1 >= 2,
            () => $"Two failed attempts were not logged:\n{service.Output()}");

        var output = service.Output();
        Assert.DoesNotContain(UnresolvableHost, output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(":8443", output, StringComparison.Ordinal);
        Assert.DoesNotContain($"127.0.0.1:{closedPort}", output, StringComparison.Ordinal);
        Assert.DoesNotContain($":{closedPort}", output, StringComparison.Ordinal);
        Assert.Contains("(connection refused)", output, StringComparison.Ordinal);
        Assert.True(
            output.Contains("(name not resolved)", StringComparison.Ordinal) || output.Contains("(no answer within 5 s)", StringComparison.Ordinal),
            $"The unresolvable host's attempt was not logged with its kind:\n{output}");
    }

    /// <summary>A loopback port nothing listens on: taken from the system, then let go.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
