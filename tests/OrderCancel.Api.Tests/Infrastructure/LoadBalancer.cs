using System.Diagnostics;
using System.Net;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// Debian's HAProxy with the configuration <c>./scripts/cluster.sh</c> runs (scripts/cluster/haproxy.cfg: health checks
/// on <c>/health/ready</c> every second, out after two failures, connection failures tried on another instance) in
/// front of three service instances. <c>./scripts/test.sh</c> installs it when it is missing.
/// </summary>
public sealed class LoadBalancer : IDisposable
{
    private readonly Process _process;
    private readonly ProcessOutput _output;

    private LoadBalancer(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        _output = new ProcessOutput(process);
    }

    public string BaseUrl { get; }

    /// <summary>Starts HAProxy in front of the three <paramref name="instances"/> and waits until it routes to all of them.</summary>
    public static async Task<LoadBalancer> StartAsync(IReadOnlyList<string> instances)
    {
        Assert.Equal(3, instances.Count);
        var port = ServiceProcess.FreePort();
        var start = new ProcessStartInfo(File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-db", "-f", Path.Combine(RepositoryRoot.Path, "scripts", "cluster", "haproxy.cfg") })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["OC_LB_BIND"] = $"127.0.0.1:{port}";
        start.Environment["OC_STATS_BIND"] = $"127.0.0.1:{ServiceProcess.FreePort()}";
        for (var i = 0; i < instances.Count; i++)
        {
            start.Environment[$"OC_API{i + 1}"] = new Uri(instances[i]).Authority;
        }

        var balancer = new LoadBalancer(Process.Start(start)!, $"http://127.0.0.1:{port}");
        await Eventually.TrueAsync(
            async () =>
            {
                Assert.False(balancer._process.HasExited, $"HAProxy exited:\n{balancer.Output()}");
                try
                {
                    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
                    return (await http.GetAsync($"{balancer.BaseUrl}/health/ready")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            () => $"HAProxy did not route to a ready instance:\n{balancer.Output()}");
        return balancer;
    }

    public HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public string Output() => _output.ToString();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
