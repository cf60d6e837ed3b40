using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A pg_auto_failover formation (a monitor, a primary and its synchronous standby, Debian's
/// <c>postgresql-15-auto-failover</c>, which ./scripts/test.sh installs when it is missing) started by the operator's own
/// <c>./scripts/cluster.sh db</c> with its settings (scripts/cluster/monitor.conf), on free ports, in a folder of its own.
/// The script runs from a copy of <c>scripts/</c> in that folder, so its bookkeeping (<c>.data/started-cluster</c>)
/// never touches the checkout's; as root its PostgreSQL runs as the <c>postgres</c> user, as the script does.
/// </summary>
public sealed partial class FailoverFormation : IOrdersDatabase, IAsyncDisposable
{
    private static readonly string[] Nodes = ["monitor", "node1", "node2"];
    private static readonly string[] DataNodes = ["node1", "node2"];

    private readonly string _root;
    private readonly int _monitorPort;

    private FailoverFormation(string root, int monitorPort)
    {
        _root = root;
        _monitorPort = monitorPort;
    }

    /// <summary>Where the script keeps the formation: its data, its logs (<c>logs/</c>), pg_autoctl's state.</summary>
    public string Folder => Path.Combine(_root, "cluster");

    /// <summary>
    /// The multi-host connection string the script printed for the instances (docs/operations.md, "The connection
    /// string"), once <see cref="StartAsync"/> has started the formation.
    /// </summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>A formation to be, in a folder of its own holding a copy of <c>scripts/</c>, on free ports: <see cref="StartAsync"/> starts it.</summary>
    public static FailoverFormation Create()
    {
        // Readable by everyone (the default mode, unlike a temp subdirectory's): pg_autoctl, as the postgres user, works in it.
        var root = Path.Combine(Path.GetTempPath(), $"oc-failover-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "scripts"));
        CopyFolder(Path.Combine(RepositoryRoot.Path, "scripts"), Path.Combine(root, "scripts"));
        return new FailoverFormation(root, FreePorts(4));
    }

    /// <summary>
    /// <c>./scripts/cluster.sh db</c>: starts whatever of the formation is not running (all of it the first time; a
    /// killed node comes back as the standby) and returns once it has a primary and a synchronous standby.
    /// </summary>
    public async Task StartAsync()
    {
        var (exitCode, output) = await ScriptAsync(TimeSpan.FromMinutes(4), "db");
        Assert.True(exitCode == 0, $"./scripts/cluster.sh db failed ({exitCode}):\n{output}\n{Logs()}");
        var ready = ReadyLine().Match(output);
        Assert.True(ready.Success, $"./scripts/cluster.sh db printed no connection string:\n{output}");
        ConnectionString = ready.Groups["connection"].Value;
    }

    [GeneratedRegex("""^The formation is ready: ConnectionStrings__Orders="(?<connection>[^"]+)"$""", RegexOptions.Multiline)]
    private static partial Regex ReadyLine();

    /// <summary>Whether the formation has a primary and a synchronous standby, each where the monitor wants it.</summary>
    public async Task<bool> HealthyAsync() => Healthy(await StatesAsync());

    /// <summary>Waits (up to 3 minutes, as the script does) until the formation has a primary and a synchronous standby.</summary>
    public Task WaitUntilHealthyAsync()
    {
        var states = "";
        return Eventually.TrueAsync(
            async () => Healthy(states = await StatesAsync()),
            () => $"The formation has no primary and secondary: {states}\n{Logs()}",
            seconds: 180);
    }

    private static bool Healthy(string states) =>
        states is "node1 primary/primary, node2 secondary/secondary" or "node1 secondary/secondary, node2 primary/primary";

    /// <summary>The node the monitor has as the primary (<c>node1</c> or <c>node2</c>).</summary>
    public async Task<string> PrimaryAsync() =>
        await MonitorScalarAsync<string>("SELECT nodename FROM pgautofailover.node WHERE reportedstate = 'primary' AND goalstate = 'primary'");

    /// <summary>Each node's reported and assigned state, as <c>pg_autoctl show state</c> has them.</summary>
    public Task<string> StatesAsync() =>
        MonitorScalarAsync<string>("SELECT string_agg(nodename || ' ' || reportedstate || '/' || goalstate, ', ' ORDER BY nodeid) FROM pgautofailover.node");

    /// <summary>
    /// <c>kill -9</c> of <paramref name="node"/>'s whole node at once, as when its machine dies: its <c>pg_autoctl run</c>
    /// (the keeper and its services, one process group, as the script starts it) and its PostgreSQL, children included
    /// (each of which PostgreSQL puts in a session of its own).
    /// </summary>
    /// <returns>The <see cref="Stopwatch"/> timestamp of the kill.</returns>
    public async Task<long> KillNodeAsync(string node)
    {
        var pgdata = Path.Combine(Folder, node);
        var processes = await ProcessesAsync();
        var keeper = processes.Single(p => p.Args == $"pg_autoctl run --pgdata {pgdata}");
        var postmaster = int.Parse(File.ReadLines(Path.Combine(pgdata, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        var doomed = processes.Where(p => p.Group == keeper.Pid || p.Pid == postmaster || p.Parent == postmaster).Select(p => p.Pid).ToList();
        Assert.Contains(postmaster, doomed);

        // By the system call each, not by a kill(1) started now: on a busy machine starting a process takes a while.
        var targets = doomed.Select(TryGetProcess).OfType<Process>().ToList();
        var killedAt = Stopwatch.GetTimestamp();
        foreach (var target in targets)
        {
            try
            {
                target.Kill();
            }
            catch (InvalidOperationException)
            {
                // A backend that ended since ps listed it.
            }
        }

        foreach (var target in targets)
        {
            target.Dispose();
        }

        await Eventually.TrueAsync(
            () => !Running(keeper.Pid) && !Running(postmaster),
            () => $"{node}'s keeper ({keeper.Pid}) or PostgreSQL ({postmaster}) outlived kill -9.");
        return killedAt;
    }

    private static Process? TryGetProcess(int pid)
    {
        try
        {
            return Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Whether the process runs (a zombie, dead but not yet reaped, does not).</summary>
    private static bool Running(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// The monitor's record of the formation's changes since <paramref name="since"/> (UTC): when each node reported
    /// which state, and what it was assigned (<c>pg_autoctl show events</c>).
    /// </summary>
    public Task<string> EventsSinceAsync(DateTime since) =>
        MonitorScalarAsync<string>(
            "SELECT coalesce(string_agg(to_char(eventtime AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') || ' ' || nodename || ' ' || reportedstate || '/' || goalstate || ' ' || description, E'\n' ORDER BY eventid), '') "
            + $"FROM pgautofailover.event WHERE eventtime >= '{since:O}'::timestamptz");

    /// <summary>Starts <c>pg_autoctl perform switchover</c> (as the script's helpers run pg_autoctl); the task ends when it does.</summary>
    public Task<(int ExitCode, string Output)> SwitchoverAsync() =>
        RunAsync(
            "bash",
            "-c",
            "source scripts/lib/postgres.sh && pg_autoctl_in \"$1\" perform switchover --pgdata \"$1/monitor\"",
            "switchover",
            Folder);

    /// <summary>When the monitor began the switchover or failover a user asked for after <paramref name="since"/> (UTC), once it has.</summary>
    public async Task<DateTime> UserFailoverStartedAsync(DateTime since)
    {
        DateTime? started = null;
        await Eventually.TrueAsync(
            async () => (started = await MonitorScalarAsync<DateTime?>(
                $"SELECT eventtime FROM pgautofailover.event WHERE eventtime >= '{since:O}'::timestamptz AND description LIKE '%user-initiated failover%' ORDER BY eventtime LIMIT 1")) is not null,
            () => $"The monitor did not begin the switchover:\n{Logs()}",
            seconds: 60);
        return started!.Value;
    }

    /// <summary>
    /// Asks each node every 100 ms, on a connection of its own, whether it takes writes (out of recovery, and not
    /// read-only, as pg_auto_failover keeps a standby it promotes until the old primary is known to be down), until
    /// <paramref name="stop"/>: adds to <paramref name="writable"/>, as they come, the <see cref="Stopwatch"/> timestamps
    /// at which a node answered that it did.
    /// </summary>
    public async Task ProbeWritesAsync(ConcurrentQueue<(long At, string Node)> writable, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await Task.WhenAll(DataNodes.Select(async (node, i) =>
            {
                try
                {
                    var connection = $"Host=127.0.0.1;Port={_monitorPort + 1 + i};Database=ordercancel;Username=postgres;Pooling=false;Timeout=2;Command Timeout=2";
                    if (await Sql.ScalarAsync<bool>(connection, "SELECT NOT pg_is_in_recovery() AND NOT current_setting('transaction_read_only')::boolean"))
                    {
                        writable.Enqueue((Stopwatch.GetTimestamp(), node));
                    }
                }
                catch (Exception exception) when (exception is NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    // Down, starting or stopping: not taking writes.
                }
            }));
            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>The last lines of the monitor's and the nodes' logs, for a failure's message.</summary>
    public string Logs()
    {
        var logs = Path.Combine(Folder, "logs");
        return string.Join('\n', Nodes
            .Select(name => Path.Combine(logs, $"{name}.log"))
            .Where(File.Exists)
            .Select(file => $"--- {Path.GetFileName(file)}\n{string.Join('\n', File.ReadLines(file).TakeLast(30))}"));
    }

    public async Task<T> WithDbAsync<T>(Func<OrdersDbContext, Task<T>> query)
    {
        var options = (DbContextOptions<OrdersDbContext>)Persistence.Database.UseOrders(new DbContextOptionsBuilder<OrdersDbContext>(), ConnectionString).Options;
        await using var db = new OrdersDbContext(options);
        return await query(db);
    }

    /// <summary>
    /// <c>./scripts/cluster.sh stop</c>; then whatever still runs from the formation's folder is killed (a node that
    /// would not stop, or one a failed test left half started), and the folder is removed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        var stopped = await ScriptAsync(TimeSpan.FromMinutes(3), "stop");
        var leftovers = Leftovers(await ProcessesAsync());
        if (leftovers.Count > 0)
        {
            await RunAsync("kill", ["-9", .. leftovers.Select(process => process.Pid.ToString(CultureInfo.InvariantCulture))]);
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A PostgreSQL child that outlived its postmaster for a moment; the folder is in the temp folder anyway.
        }

        Assert.True(
            stopped.ExitCode == 0 && leftovers.Count == 0,
            $"./scripts/cluster.sh stop ({stopped.ExitCode}) left {leftovers.Count} processes running:\n"
            + string.Join('\n', leftovers.Select(process => $"  {process.Pid} (parent {process.Parent}): {process.Args}"))
            + $"\nits output:\n{stopped.Output}");
    }

    /// <summary>
    /// What still runs of the formation: each <c>pg_autoctl run</c> on a folder of it with its process group (its
    /// services and its PostgreSQL), and each PostgreSQL on a folder of it with its children.
    /// </summary>
    private List<(int Pid, int Parent, int Group, string Args)> Leftovers(List<(int Pid, int Parent, int Group, string Args)> processes)
    {
        var keepers = processes.Where(p => p.Args.StartsWith("pg_autoctl run ", StringComparison.Ordinal) && p.Args.Contains(_root, StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();
        var postmasters = processes.Where(p => p.Args.Contains(_root, StringComparison.Ordinal) && p.Args.Contains("/postgres -D ", StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();
        return [.. processes.Where(p => keepers.Contains(p.Group) || postmasters.Contains(p.Pid) || postmasters.Contains(p.Parent))];
    }

    /// <summary>Every live process of the machine (zombies, which nothing can kill, left out): its id, its parent's, its process group's, and its command line.</summary>
    private async Task<List<(int Pid, int Parent, int Group, string Args)>> ProcessesAsync() =>
        [.. (await RunAsync("ps", "-eo", "pid=,ppid=,pgid=,stat=,args=")).Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => ProcessLine().Match(line))
            .Where(match => match.Success && !match.Groups[4].Value.StartsWith('Z'))
            .Select(match => (Number(match, 1), Number(match, 2), Number(match, 3), match.Groups[5].Value.TrimEnd()))];

    private static int Number(Match match, int group) => int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$")]
    private static partial Regex ProcessLine();

    private Task<(int ExitCode, string Output)> ScriptAsync(TimeSpan timeout, string command)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = _root };
        start.ArgumentList.Add(Path.Combine(_root, "scripts", "cluster.sh"));
        start.ArgumentList.Add(command);
        start.Environment["ORDERCANCEL_CLUSTER_DIR"] = Folder;
        start.Environment["ORDERCANCEL_CLUSTER_DB_PORT"] = _monitorPort.ToString(CultureInfo.InvariantCulture);
        return RunAsync(start, timeout);
    }

    private async Task<T> MonitorScalarAsync<T>(string sql) =>
        await Sql.ScalarAsync<T>($"Host=127.0.0.1;Port={_monitorPort};Database=pg_auto_failover;Username=postgres;Pooling=false", sql);

    private Task<(int ExitCode, string Output)> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = _root };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return RunAsync(start, TimeSpan.FromMinutes(1));
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start)!;
        var output = new ProcessOutput(process);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            return (-1, $"{start.FileName} {string.Join(' ', start.ArgumentList)} did not end within {timeout.TotalSeconds} s:\n{output}");
        }

        // The last lines may still be on their way from the output's readers.
        process.WaitForExit();
        return (process.ExitCode, output.ToString());
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var folder in Directory.GetDirectories(from))
        {
            CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }

    /// <summary>
    /// The first of <paramref name="count"/> free ports in a row (the script takes the monitor's and the next ones), below
    /// the range the kernel hands out for outgoing connections, so none of those takes one meanwhile.
    /// </summary>
    private static int FreePorts(int count)
    {
        for (var tries = 0; tries < 100; tries++)
        {
            var first = Random.Shared.Next(20000, 32000);
            if (Enumerable.Range(first, count).All(Free))
            {
                return first;
            }
        }

        throw new InvalidOperationException($"No {count} free ports in a row.");
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
