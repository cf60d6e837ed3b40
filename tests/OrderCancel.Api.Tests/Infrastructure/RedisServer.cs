using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A throwaway <c>redis-server</c> on a free loopback port that keeps nothing on disk: Debian's package (which
/// scripts/test.sh installs when missing), or the one <c>REDIS_SERVER</c> names. A test can stop it (SIGKILL, as when
/// its machine dies) and start it again, empty, on the same port, or pause it (SIGSTOP, as when it hangs) and resume it.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ordercancel-redis-").FullName;
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>What <c>ConnectionStrings__Redis</c> says to reach it.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static string Binary =>
        Environment.GetEnvironmentVariable("REDIS_SERVER")
        ?? (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "redis-server"))
            .FirstOrDefault(File.Exists)
        ?? "/usr/bin/redis-server";

    public static async Task<RedisServer> StartAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var server = new RedisServer(port);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts it (again, empty) on its port, and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        Assert.True(File.Exists(Binary), $"No redis-server at {Binary}: ./scripts/test.sh installs Debian's redis-server package, or set REDIS_SERVER.");
        var start = new ProcessStartInfo(Binary)
        {
            WorkingDirectory = _folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--port", $"{Port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _folder, "--daemonize", "no"])
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        var output = new ProcessOutput(_process);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await AnswersPingAsync())
        {
            Assert.False(_process.HasExited, $"redis-server exited:\n{output}");
            Assert.True(DateTime.UtcNow < deadline, $"redis-server did not answer on port {Port}:\n{output}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILL: its connections drop at once, as when Redis or its machine dies.</summary>
    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>SIGSTOP: it keeps its connections but answers nothing, as a hung server or a lost network does.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>SIGCONT: it answers again, what it was sent meanwhile included.</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [signal, $"{_process!.Id}"]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public void Dispose()
    {
        Stop();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task<bool> AnswersPingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception exception) when (exception is SocketException or IOException or TimeoutException)
        {
            return false;
        }
    }
}
