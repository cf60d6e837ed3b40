using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>The built service run as a real process, so a test can kill it (SIGKILL) and start it again.</summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly ProcessOutput _output;

    private ServiceProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        _output = new ProcessOutput(process);
    }

    public string BaseUrl { get; }

    public static async Task<ServiceProcess> StartAsync(string connectionString, IDictionary<string, string> settings)
    {
        var service = Launch(connectionString, settings);
        await service.WaitUntilReadyAsync();
        return service;
    }

    /// <summary>Starts the service without waiting for it to be ready (<see cref="WaitUntilReadyAsync"/>), on <paramref name="port"/> or a free one.</summary>
    public static ServiceProcess Launch(string connectionString, IDictionary<string, string> settings, int? port = null)
    {
        var baseUrl = $"http://127.0.0.1:{port ?? FreePort()}";
        return new ServiceProcess(Process.Start(StartInfo(connectionString, settings, "--urls", baseUrl))!, baseUrl);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Runs the service with <paramref name="arguments"/> until it exits by itself (at most a minute): its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string connectionString, IDictionary<string, string> settings, params string[] arguments)
    {
        using var service = new ServiceProcess(Process.Start(StartInfo(connectionString, settings, arguments))!, baseUrl: "");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await service._process.WaitForExitAsync(timeout.Token);
        return (service._process.ExitCode, service.Output());
    }

    private static ProcessStartInfo StartInfo(string connectionString, IDictionary<string, string> settings, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OrderCancel.Api.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment["ConnectionStrings__Orders"] = connectionString;
        start.Environment["Serilog__MinimumLevel__Default"] = "Warning";
        start.Environment["Shutdown__DrainDelay"] = "00:00:00";
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    public HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = new Uri(BaseUrl) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>SIGTERM, as an orchestrator stops an instance: the service shuts down in its own time (<see cref="WaitForExitAsync"/>).</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Waits for the process to exit by itself (at most <paramref name="seconds"/>): its exit code.</summary>
    public async Task<int> WaitForExitAsync(int seconds)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no shutdown code runs, as when a machine dies.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }

    /// <summary>Waits until <c>/health/ready</c> answers 200 (at most a minute); fails if the process exits first.</summary>
    public async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.False(_process.HasExited, $"The service exited during start-up:\n{Output()}");
            try
            {
                if ((await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, $"The service did not become ready:\n{Output()}");
            await Task.Delay(100);
        }
    }

    /// <summary>What the process has written to stdout and stderr so far.</summary>
    public string Output() => _output.ToString();

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
