using System.Diagnostics;
using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// SIGTERM behind a load balancer (a rolling restart): the instance fails its readiness check at once and goes on
/// answering requests for <c>Shutdown:DrainDelay</c>, so the balancer takes it out before it stops accepting
/// connections, then exits cleanly. Before, readiness said 200 until the port closed, and requests routed to it in that
/// gap failed.
/// </summary>
public sealed class ShutdownDrainTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task On_sigterm_readiness_fails_at_once_requests_are_still_answered_through_the_drain_delay_and_the_process_exits_cleanly()
    {
        var partner = await database.NewPartnerAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>
        {
            ["Database__MigrateOnStartup"] = "false",
            ["Shutdown__DrainDelay"] = "00:00:05",
        });
        var client = service.Client(partner.Key);
        var order = (await client.CreateOrderAsync()).Id();

        var terminated = Stopwatch.StartNew();
        service.Terminate();
        await Eventually.TrueAsync(
            async () => (await service.Client("").GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
            () => "Readiness still answered 200 after SIGTERM.",
            seconds: 3);
        List<HttpStatusCode> answers = [];
        while (terminated.Elapsed < TimeSpan.FromSeconds(4))
        {
            answers.Add((await client.GetAsync($"/v1/orders/{order}")).StatusCode);
            await Task.Delay(100);
        }

        var exitCode = await service.WaitForExitAsync(seconds: 30);

        Assert.True(answers.Count >= 5, $"Only {answers.Count} requests were answered during the drain.");
        Assert.All(answers, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(0, exitCode);
        Assert.True(terminated.Elapsed >= TimeSpan.FromSeconds(5), $"The process exited {terminated.Elapsed.TotalSeconds:0.0} s after SIGTERM, before its drain delay.");
    }
}
