using System.Collections.Concurrent;
using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Three service processes behind HAProxy (scripts/cluster/haproxy.cfg) on one database, as <c>./scripts/cluster.sh</c>
/// runs them, attacked as production meets them: an instance killed with SIGKILL under load, and a rolling restart
/// (each instance sent SIGTERM and started again in turn) under load. Clients retry a failed request with its key, as
/// docs/api.md asks; whatever happens, no answer is a 500 and every change lands exactly once.
/// </summary>
public sealed class LoadBalancedInstancesTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["RateLimiting__PermitsPerSecond"] = "100000",
        ["ForwardedHeaders__KnownProxies"] = "127.0.0.1",
        ["Shutdown__DrainDelay"] = "00:00:03",
    };

    [Fact]
    public async Task An_instance_killed_under_load_loses_nothing_applies_nothing_twice_and_no_answer_is_a_500()
    {
        var partner = await database.NewPartnerAsync();
        var load = await KeyedLoad.PrepareAsync(partner.Client, "kill");
        var instances = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ServiceProcess.StartAsync(database.ConnectionString, Settings)));
        try
        {
            using var balancer = await LoadBalancer.StartAsync([.. instances.Select(i => i.BaseUrl)]);
            var client = balancer.Client(partner.Key);
            var sending = load.SendAsync(client);
            await Eventually.TrueAsync(() => load.Answered >= load.Count / 3, () => "The load never got going.");
            instances[1].Kill();
            var answeredAtKill = load.Answered;
            await sending;
            await Eventually.TrueAsync(
                () => balancer.Output().Contains("api2 is DOWN", StringComparison.Ordinal),
                () => $"HAProxy did not take the killed instance out:\n{balancer.Output()}");

            Assert.True(answeredAtKill < load.Count - KeyedLoad.Clients, "The load was over when the instance died; the kill tested nothing.");
            await load.AssertExactlyOnceAsync(database, partner.Id);
        }
        finally
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_rolling_restart_under_load_fails_no_request()
    {
        var partner = await database.NewPartnerAsync();
        var load = await KeyedLoad.PrepareAsync(partner.Client, "roll");
        var instances = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ServiceProcess.StartAsync(database.ConnectionString, Settings)));
        try
        {
            using var balancer = await LoadBalancer.StartAsync([.. instances.Select(i => i.BaseUrl)]);
            var client = balancer.Client(partner.Key);
            using var restarted = new CancellationTokenSource();
            var reads = ReadUntilAsync(client, load.Orders[0], restarted.Token);
            var writes = load.SendAsync(client, pace: () => TimeSpan.FromSeconds(1));
            for (var i = 0; i < instances.Length; i++)
            {
                var port = new Uri(instances[i].BaseUrl).Port;
                instances[i].Terminate();
                Assert.Equal(0, await instances[i].WaitForExitAsync(seconds: 30));
                instances[i].Dispose();
                instances[i] = ServiceProcess.Launch(database.ConnectionString, Settings, port);
                await instances[i].WaitUntilReadyAsync();
                await Task.Delay(TimeSpan.FromSeconds(3)); // HAProxy's rise: two checks a second apart.
            }

            await restarted.CancelAsync();
            var (read, readFailures) = await reads;
            await writes;

            Assert.True(read >= 50, $"Only {read} reads were answered during the restarts.");
            Assert.True(readFailures.Count == 0, $"Reads failed during the rolling restart: {string.Join("; ", readFailures.Take(10))}");
            Assert.True(load.Failures.Count == 0, $"Writes failed during the rolling restart: {string.Join("; ", load.Failures.Take(10))}");
            await load.AssertExactlyOnceAsync(database, partner.Id);
        }
        finally
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }
    }

    /// <summary>Reads one order through the balancer from two clients until <paramref name="stop"/>: how many were answered 200, and every other outcome.</summary>
    private static async Task<(int Answered, List<string> Failures)> ReadUntilAsync(HttpClient client, long order, CancellationToken stop)
    {
        var answered = 0;
        var failures = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync($"/v1/orders/{order}", CancellationToken.None);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref answered);
                    }
                    else
                    {
                        failures.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                    }
                }
                catch (HttpRequestException exception)
                {
                    failures.Add(exception.Message);
                }

                await Task.Delay(50, CancellationToken.None);
            }
        }));
        return (answered, [.. failures]);
    }
}
