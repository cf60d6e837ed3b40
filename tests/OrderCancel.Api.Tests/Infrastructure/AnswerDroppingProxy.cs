using System.Net;
using System.Net.Sockets;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A loopback TCP proxy in front of a service that, when told (<see cref="DropNextAnswer"/>), lets a request through
/// and cuts the client's connection as the service's answer starts to come back: the change is committed, and the
/// client sees only a lost connection, as when a network drops a response.
/// </summary>
public sealed class AnswerDroppingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _target;
    private readonly CancellationTokenSource _running = new();
    private int _dropNext;
    private int _dropped;

    private AnswerDroppingProxy(Uri target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptAsync();
    }

    public Uri BaseUri => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>Answers cut so far.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    public static AnswerDroppingProxy Start(string targetBaseUrl) => new(new Uri(targetBaseUrl));

    /// <summary>The next answer to come back, on whichever connection, is cut instead of delivered.</summary>
    public void DropNextAnswer() => Volatile.Write(ref _dropNext, 1);

    public async ValueTask DisposeAsync()
    {
        await _running.CancelAsync();
        _listener.Stop();
        _running.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_running.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_running.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            try
            {
                await upstream.ConnectAsync(_target.Host, _target.Port, _running.Token);
                var toService = client.GetStream().CopyToAsync(upstream.GetStream(), _running.Token);
                var toClient = AnswerAsync(upstream.GetStream(), client);
                await Task.WhenAny(toService, toClient);
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // Either side went away: so does the other.
            }
        }
    }

    private async Task AnswerAsync(NetworkStream service, TcpClient client)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await service.ReadAsync(buffer, _running.Token)) > 0)
        {
            if (Interlocked.Exchange(ref _dropNext, 0) == 1)
            {
                Interlocked.Increment(ref _dropped);
                client.Client.Close(0);
                return;
            }

            await client.GetStream().WriteAsync(buffer.AsMemory(0, read), _running.Token);
        }
    }
}
