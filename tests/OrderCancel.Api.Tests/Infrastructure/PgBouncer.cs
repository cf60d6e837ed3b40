using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A throwaway PgBouncer (Debian's package, which ./scripts/test.sh installs; <c>PGBOUNCER</c> names another binary) in
/// front of the PostgreSQL of a connection string, on a free loopback port: its configuration in a folder of its own,
/// removed with it. As root it runs as the <c>postgres</c> user, since PgBouncer refuses to run as root.
/// </summary>
public sealed class PgBouncer : IDisposable
{
    private readonly Process _process;
    private readonly string _folder;
    private readonly ProcessOutput _log;

    private PgBouncer(Process process, string folder, int port, string user)
    {
        _process = process;
        _folder = folder;
        Port = port;
        User = user;
        _log = new ProcessOutput(process);
    }

    public int Port { get; }

    /// <summary>The user PgBouncer knows (the server connection string's), also its admin.</summary>
    public string User { get; }

    /// <summary>
    /// Starts PgBouncer with <paramref name="settings"/> as its <c>[pgbouncer]</c> section, except for where it listens,
    /// how clients log in (<c>trust</c>, for the server connection string's user, who is also its admin) and where it
    /// connects: every database name goes to the same database of <paramref name="serverConnectionString"/>'s server.
    /// </summary>
    public static async Task<PgBouncer> StartAsync(string serverConnectionString, IReadOnlyDictionary<string, string> settings)
    {
        var binary = Binary();
        var server = new NpgsqlConnectionStringBuilder(serverConnectionString);
        var user = server.Username ?? throw new InvalidOperationException("The server connection string names no user.");
        var port = FreePort();
        var folder = Directory.CreateTempSubdirectory("ordercancel-pgbouncer-").FullName;
        var listening = new Dictionary<string, string>(settings)
        {
            ["listen_addr"] = "127.0.0.1",
            ["listen_port"] = port.ToString(CultureInfo.InvariantCulture),
            ["unix_socket_dir"] = "",
            ["auth_type"] = "trust",
            ["auth_file"] = Path.Combine(folder, "userlist.txt"),
            ["admin_users"] = user,
        };
        listening.Remove("logfile");
        listening.Remove("pidfile");
        var ini = new StringBuilder()
            .AppendLine("[databases]")
            .AppendLine(CultureInfo.InvariantCulture, $"* = host={server.Host} port={server.Port}")
            .AppendLine()
            .AppendLine("[pgbouncer]");
        foreach (var (key, value) in listening)
        {
            ini.AppendLine(CultureInfo.InvariantCulture, $"{key} = {value}");
        }

        // With trust no client password is checked; the file's password is what PgBouncer logs in to the server with.
        await File.WriteAllTextAsync(Path.Combine(folder, "userlist.txt"), $"{Quoted(user)} {Quoted(server.Password ?? "")}\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "pgbouncer.ini"), ini.ToString());
        var asPostgres = Environment.IsPrivilegedProcess;
        if (asPostgres && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            foreach (var file in Directory.GetFiles(folder))
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
        }

        var start = new ProcessStartInfo(asPostgres ? "runuser" : binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            foreach (var argument in new[] { "-u", "postgres", "--", binary })
            {
                start.ArgumentList.Add(argument);
            }
        }

        start.ArgumentList.Add(Path.Combine(folder, "pgbouncer.ini"));
        var bouncer = new PgBouncer(Process.Start(start)!, folder, port, user);
        try
        {
            await bouncer.WaitUntilListeningAsync();
        }
        catch
        {
            bouncer.Dispose();
            throw;
        }

        return bouncer;
    }

    /// <summary>A connection string to <paramref name="database"/> through PgBouncer, as the service would be given.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username={User}";

    /// <summary>What PgBouncer has logged so far.</summary>
    public string Log() => _log.ToString();

    /// <summary>
    /// A <c>SHOW</c> command of PgBouncer's admin console (the database <c>pgbouncer</c>): its rows, column name to value.
    /// The console speaks only the simple query protocol, which Npgsql never uses, hence these few lines of it.
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyDictionary<string, string?>>> ShowAsync(string what)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Message(null, [.. Int32(196608), .. Text("user"), .. Text(User), .. Text("database"), .. Text("pgbouncer"), 0]));
        List<string> columns = [];
        List<IReadOnlyDictionary<string, string?>> rows = [];
        var queried = false;
        while (true)
        {
            var (type, body) = await ReadAsync(stream);
            switch (type)
            {
                case 'R' when BinaryPrimitives.ReadInt32BigEndian(body) != 0:
                    throw new InvalidOperationException("PgBouncer's admin console asked for a password.");
                case 'E':
                    throw new InvalidOperationException($"PgBouncer's admin console answered an error: {Encoding.UTF8.GetString(body)}");
                case 'T':
                    columns = [.. Fields(body)];
                    break;
                case 'D':
                    rows.Add(Row(body, columns));
                    break;
                case 'Z' when queried:
                    await stream.WriteAsync(Message('X', []));
                    return rows;
                case 'Z':
                    queried = true;
                    await stream.WriteAsync(Message('Q', Text($"SHOW {what}")));
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>Stops PgBouncer (SIGTERM, then SIGKILL if it has not gone in 10 s) and removes its folder.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            // runuser passes the signal on to PgBouncer.
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                kill.WaitForExit();
            }

            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        _process.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static string Binary()
    {
        var binary = Environment.GetEnvironmentVariable("PGBOUNCER") ?? "/usr/sbin/pgbouncer";
        Assert.True(File.Exists(binary), $"No PgBouncer at {binary}: ./scripts/test.sh installs Debian's pgbouncer package, or set PGBOUNCER.");
        return binary;
    }

    private async Task WaitUntilListeningAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            Assert.False(_process.HasExited, $"PgBouncer exited at start:\n{Log()}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, $"PgBouncer did not listen on {Port}:\n{Log()}");
            await Task.Delay(50);
        }
    }

    private static string Quoted(string value) => $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Text(string value) => [.. Encoding.UTF8.GetBytes(value), 0];

    /// <summary>A protocol message: its type (none for the startup message), its length including itself, its body.</summary>
    private static byte[] Message(char? type, byte[] body) =>
        [.. type is { } t ? [(byte)t] : Array.Empty<byte>(), .. Int32(body.Length + 4), .. body];

    private static async Task<(char Type, byte[] Body)> ReadAsync(NetworkStream stream)
    {
        var head = new byte[5];
        await stream.ReadExactlyAsync(head);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(1)) - 4];
        await stream.ReadExactlyAsync(body);
        return ((char)head[0], body);
    }

    /// <summary>The column names of a RowDescription.</summary>
    private static IEnumerable<string> Fields(byte[] body)
    {
        var at = 2;
        for (var i = 0; i < BinaryPrimitives.ReadInt16BigEndian(body); i++)
        {
            var end = Array.IndexOf(body, (byte)0, at);
            yield return Encoding.UTF8.GetString(body, at, end - at);
            at = end + 1 + 18; // table oid, column, type oid, size, modifier, format
        }
    }

    private static Dictionary<string, string?> Row(byte[] body, List<string> columns)
    {
        var row = new Dictionary<string, string?>(StringComparer.Ordinal);
        var at = 2;
        for (var i = 0; i < BinaryPrimitives.ReadInt16BigEndian(body); i++)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(at));
            at += 4;
            row[columns[i]] = length < 0 ? null : Encoding.UTF8.GetString(body, at, length);
            at += Math.Max(length, 0);
        }

        return row;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
