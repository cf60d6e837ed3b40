using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;

// The load scenarios; bench/run.sh starts PostgreSQL, the service and the raw baseline, then runs this.
// It seeds the orders, drives each scenario with wrk (bench/wrk/*.lua) at a fixed concurrency, samples
// the target's RSS meanwhile, runs the scheduler sweep and prints the table.
// Usage: OrderCancel.Bench --service URL --service-pid PID --raw URL --raw-pid PID --admin-key KEY --db CONNSTR
//        [--old URL --old-pid PID (an older build of the service on the same database, measured beside it)]
//        [--concurrency 32] [--seconds 10] [--warmup 60] [--sweep 100000] [--only get|bulk|expiry|events|outbox] [--rounds 3 (bulk)]
//        OrderCancel.Bench --only cluster --label NAME --service LB-URL --service-pid PID --admin-key KEY --db CONNSTR
//        [--cancel-pool 250000] (bench/cluster.sh: no raw baseline; --warmup 0 measures at once)
var options = Options.Parse(args);
using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(15) };

Console.Error.WriteLine("Creating the benchmark partner...");
var key = await Setup.CreatePartnerKeyAsync(http, options);
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
await using var db = NpgsqlDataSource.Create(options.Database);
var seeder = new Seeder(http, db, options.Service);

if (options.Only == "bulk")
{
    // The bulk job against the scheduler sweep, in one run: no load scenarios, no raw baseline.
    // Sweep, job, sweep: the process's RSS only grows, so a phase run later starts higher; the job is compared with
    // the sweep run before it and the one run after it.
    // Both paths are warmed up first (20,000 each, not reported): a cold first phase ran 40 % slower than the same
    // sweep later in the run.
    // Then a sweep and --rounds times a job followed by a sweep: two identical sweeps in one run were seen to differ 2x
    // (the set-based UPDATE beside them too: the database, not the code), so one job against one pair of sweeps reads
    // the machine's moment; each job is read against the sweeps on either side of it, and the median of the rounds.
    var getPool = await seeder.PoolAsync("get", 10_000, quantity: 2);
    await Sweep.RunAsync(http, seeder, options, Bulk.WarmUpOrders);
    await Bulk.AloneAsync(http, seeder, options, "RECALL-0", Bulk.WarmUpOrders);
    List<SweepResult> sweeps = [await Sweep.RunAsync(http, seeder, options, options.SweepOrders)];
    List<JobRun> jobs = [];
    for (var round = 1; round <= options.Rounds; round++)
    {
        jobs.Add(await Bulk.AloneAsync(http, seeder, options, $"RECALL-{round}", Bulk.Orders));
        sweeps.Add(await Sweep.RunAsync(http, seeder, options, options.SweepOrders));
    }

    Report.PrintRounds(sweeps, jobs);
    Report.PrintBulk(await Bulk.BesideGetsAsync(http, seeder, new Wrk(options, key, seeder), getPool, options, jobs[^1]), sweeps[^2], sweeps[^1]);
    return;
}

if (options.Only == "events")
{
    // The events feed and webhook recovery over a table of 5,000,000 events: pages of 100 from random
    // cursors at the run's concurrency, then one recovery of 100,000 events.
    // Single-order gets in the same run, before and after the pages, for what this machine's latency is at the time.
    var feed = await EventsBench.SeedAsync(seeder, EventsBench.Events);
    var eventsWrk = new Wrk(options, key, seeder);
    var service = new Target("service", options.Service, options.ServicePid);
    var getsPool = await seeder.PoolAsync("get", 10_000, quantity: 2);
    var getsBefore = await eventsWrk.RunAsync(service, "get", getsPool);
    var pages = await eventsWrk.RunAsync(service, "events", feed.Cursors);
    var getsAfter = await eventsWrk.RunAsync(service, "get", getsPool);
    var recovery = await EventsBench.RecoverAsync(http, seeder, options, feed);
    Report.PrintEvents(pages, [getsBefore, getsAfter], recovery, EventsBench.Events);
    return;
}

if (options.Only == "outbox")
{
    // The outbox's throughput to fast endpoints, alone, beside another partner's backlog to slow endpoints, and alone
    // again, in one run (the service needs Webhooks__AllowInsecureLoopback=true: run.sh sets it for this scenario).
    Report.PrintOutbox(await OutboxBench.RunAsync(http, seeder, options));
    return;
}

if (options.Only == "cluster")
{
    // bench/cluster.sh: gets and cancels through the cluster's load balancer (--service), with as many instances in
    // rotation as the script has left there (--label says how many), printed as rows of its table. No raw baseline;
    // --service-pid is one instance's, for its peak RSS.
    var target = new Target(options.Label, options.Service, options.ServicePid);
    var clusterWrk = new Wrk(options, key, seeder);
    Console.Error.WriteLine("Seeding orders...");
    var getPool = await seeder.PoolAsync("get", 10_000, quantity: 2);
    var cancelPool = await seeder.PoolAsync("cancel-cluster", options.CancelPool, quantity: 2);
    List<Result> runs = [];
    foreach (var (scenario, pool) in new[] { ("get", getPool), ("cancel", cancelPool) })
    {
        runs.Add(options.WarmupSeconds > 0
            ? await clusterWrk.RunAsync(target, scenario, pool)
            : await clusterWrk.MeasureAsync(target, scenario, pool, options.Seconds, offset: 0));
    }

    Report.PrintClusterRows(runs);
    return;
}

if (options.Only == "expiry")
{
    // Unpaid orders expiring against the scheduler sweep, in one run, ordered as the bulk scenario is:
    // both warmed up, then sweep, expiry backlog, sweep.
    await Sweep.RunAsync(http, seeder, options, Expiry.WarmUpOrders);
    await Expiry.RunAsync(http, seeder, options, Expiry.WarmUpOrders);
    var before = await Sweep.RunAsync(http, seeder, options, options.SweepOrders);
    var backlog = await Expiry.RunAsync(http, seeder, options, options.SweepOrders);
    var after = await Sweep.RunAsync(http, seeder, options, options.SweepOrders);
    Report.PrintSweep(before);
    Report.PrintSweep(after);
    Report.PrintExpiry(backlog, before, after);
    return;
}

Console.Error.WriteLine("Seeding orders...");
var quick = options.Only == "get";
var pools = new Dictionary<string, string>
{
    ["get"] = await seeder.PoolAsync("get", 10_000, quantity: 2),
};
if (!quick)
{
    // Enough for the warm-up and the measured run of the faster target, each order cancelled once.
    // Each build gets partial-cancel orders of its own: the first build's cancels would lengthen the second's orders.
    foreach (var target in Target.All(options))
    {
        pools[$"cancel/{target.Name}"] = await seeder.PoolAsync($"cancel-{target.Name}", options.CancelPool, quantity: 2);
        if (target.Name != "raw")
        {
            pools[$"partial/{target.Name}"] = await seeder.PoolAsync($"partial-{target.Name}", 20_000, quantity: 1_000_000);
        }
    }
}

var wrk = new Wrk(options, key, seeder);
var results = new List<Result>();
var targets = Target.All(options);
foreach (var target in targets)
{
    results.Add(await wrk.RunAsync(target, "get", pools["get"]));
}

if (!quick)
{
    foreach (var target in targets)
    {
        results.Add(await wrk.RunAsync(target, "cancel", pools[$"cancel/{target.Name}"]));
    }

    // list before partial: the first page holds the newest pending orders, the partial pools', and each partial
    // cancel adds to an order's history, so after the partial runs that page would be of unusually long orders.
    // The raw baseline serves neither.
    var builds = targets.Where(target => target.Name != "raw").ToList();
    foreach (var target in builds)
    {
        results.Add(await wrk.RunAsync(target, "list", pools["get"]));
    }

    foreach (var target in builds)
    {
        results.Add(await wrk.RunAsync(target, "partial", pools[$"partial/{target.Name}"]));
    }
}

Report.PrintLoad(results, options);
if (options.OldPid > 0)
{
    // Its scheduler would otherwise take a share of the sweep's due orders.
    Process.GetProcessById(options.OldPid).Kill();
}

if (!quick && options.SweepOrders > 0)
{
    Report.PrintSweep(await Sweep.RunAsync(http, seeder, options, options.SweepOrders));
}

internal sealed record Options(
    string Service,
    int ServicePid,
    string Raw,
    int RawPid,
    string AdminKey,
    string Database,
    int Concurrency,
    int Seconds,
    int WarmupSeconds,
    int SweepOrders,
    string? Only,
    int Rounds,
    string Label,
    int CancelPool,
    string Old,
    int OldPid)
{
    public static Options Parse(string[] args)
    {
        string Get(string name, string? fallback = null)
        {
            var index = Array.IndexOf(args, "--" + name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback ?? throw new ArgumentException($"--{name} is required");
        }

        int Number(string name, string? fallback = null) => int.Parse(Get(name, fallback), CultureInfo.InvariantCulture);

        // The cluster scenario has no raw baseline.
        var only = Get("only", "all");
        var raw = only == "cluster" ? "" : null;
        return new Options(
            Get("service"), Number("service-pid"), Get("raw", raw), Number("raw-pid", raw is null ? null : "0"), Get("admin-key"), Get("db"),
            Number("concurrency", "32"), Number("seconds", "10"), Number("warmup", "60"), Number("sweep", "100000"),
            only, Number("rounds", "3"), Get("label", "service"), Number("cancel-pool", "250000"), Get("old", ""), Number("old-pid", "0"));
    }
}

/// <summary>A process under load; its PostgreSQL backends are those whose application name starts with <see cref="ApplicationName"/> (run.sh sets it).</summary>
internal sealed record Target(string Name, string Url, int Pid)
{
    public string ApplicationName => $"bench-{Name}";

    /// <summary>The service, the older build when one runs beside it, and the raw baseline.</summary>
    public static Target[] All(Options options) =>
    [
        new("service", options.Service, options.ServicePid),
        .. options.Old.Length > 0 ? [new Target("old", options.Old, options.OldPid)] : Array.Empty<Target>(),
        new("raw", options.Raw, options.RawPid),
    ];
}

internal sealed record Result(string Target, string Scenario, long Requests, long Errors, double Seconds, double P50, double P95, double P99, double PeakRssMb, int WarmupSeconds)
{
    public double PerSecond => Requests / Seconds;

    /// <summary>CPU the target's process and its PostgreSQL backends used in the measured window; null where not measured.</summary>
    public CpuUse? Cpu { get; init; }
}

/// <summary>CPU seconds of a measured window: the target's process, and the PostgreSQL backends it was connected to.</summary>
internal sealed record CpuUse(double ProcessSeconds, double DatabaseSeconds)
{
    public double TotalSeconds => ProcessSeconds + DatabaseSeconds;

    public static double MsPerRequest(double seconds, long requests) => requests > 0 ? seconds * 1000 / requests : double.NaN;
}

internal sealed record SweepResult(int Orders, double ServiceSeconds, double SetBasedSeconds, double PeakRssMb);

internal static class Setup
{
    public static async Task<string> CreatePartnerKeyAsync(HttpClient http, Options options) => (await CreatePartnerAsync(http, options)).Key;

    public static async Task<(Guid Id, string Key)> CreatePartnerAsync(HttpClient http, Options options)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, options.Service + "/v1/admin/partners")
        {
            Content = new StringContent($$"""{"name":"bench-{{Guid.NewGuid():N}}"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.AdminKey);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (body.RootElement.GetProperty("id").GetGuid(), body.RootElement.GetProperty("api_key").GetProperty("key").GetString()!);
    }
}

/// <summary>
/// Orders of three lines: one created through the API as a partner would, then copied in SQL under new ids
/// (fast, and every copy is a real order of the benchmark partner). Each pool's ids go to a file for wrk.
/// </summary>
internal sealed class Seeder(HttpClient http, NpgsqlDataSource db, string service)
{
    /// <summary>Where the seeded orders live: their dates (a scheduled cancellation's) are days there.</summary>
    public const string TimeZone = "Europe/Paris";

    private const long Block = 100_000_000;

    /// <summary>Where the next copies' ids start: a block above every order there, found by the first copy (bench/cluster.sh seeds one database twice).</summary>
    private long _nextOffset;

    public async Task<string> PoolAsync(string name, int count, int quantity)
    {
        var (from, to) = await CopiesAsync(await CreateAsync(quantity), count);
        var file = Path.Combine(Path.GetTempPath(), $"ordercancel-bench-{name}-{Environment.ProcessId}.ids");
        await File.WriteAllLinesAsync(file, Enumerable.Range(0, (int)(to - from + 1)).Select(i => (from + i).ToString(CultureInfo.InvariantCulture)));
        return file;
    }

    /// <param name="firstSku">The first line's SKU (the bulk scenario's recall selects its orders by it).</param>
    public async Task<long> CreateAsync(int quantity, string firstSku = "A", bool recurring = false)
    {
        var kind = recurring ? "\"kind\":\"recurring\",\"billing_period\":\"monthly\"" : "\"kind\":\"one_time\"";
        var body = $$$"""
            {{{{kind}}},"currency":"EUR","time_zone":"{{{TimeZone}}}",
             "customer":{"ref":"cus_bench","email":"bench@example.com","first_name":"Bench","last_name":"Mark"},
             "lines":[{"sku":"{{{firstSku}}}","name":"Item A","quantity":{{{quantity}}},"unit_price":19.90,"discount":1.50,"tax_rate":0.2},
                      {"sku":"B","name":"Item B","quantity":{{{quantity}}},"unit_price":5.00},
                      {"sku":"C","name":"Item C","quantity":{{{quantity}}},"unit_price":12.35,"tax_rate":0.055}],
             "shipping_cost":4.90,"metadata":{"source":"bench"}}
            """;
        using var response = await http.PostAsync(service + "/v1/orders", new StringContent(body, Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        using var created = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return created.RootElement.GetProperty("id").GetInt64();
    }

    /// <summary>Copies the template order (and its lines) <paramref name="count"/> times under new ids, schedule included.</summary>
    public async Task<(long From, long To)> CopiesAsync(long template, int count)
    {
        if (_nextOffset == 0)
        {
            await using var highest = db.CreateCommand("SELECT coalesce(max(id), 0) FROM orders");
            _nextOffset = ((long)(await highest.ExecuteScalarAsync())! / Block + 1) * Block;
        }

        var offset = _nextOffset;
        _nextOffset += Block;
        await ExecAsync($"""
            INSERT INTO orders (id, partner_id, kind, status, reference, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, next_change_due_at, cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, scheduled_cancellation, scheduled_reactivation)
            SELECT {offset} + g, partner_id, kind, status, NULL, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, next_change_due_at, cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, scheduled_cancellation, scheduled_reactivation
            FROM orders, generate_series(1, {count}) AS g WHERE id = {template};
            INSERT INTO order_lines (id, order_id, sku, name, quantity, cancelled_quantity, unit_price, discount, tax_rate, metadata)
            SELECT ({offset} + g)::bigint * 1000 + l.n, {offset} + g, l.sku, l.name, l.quantity, l.cancelled_quantity, l.unit_price, l.discount, l.tax_rate, l.metadata
            FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM order_lines WHERE order_id = {template}) AS l, generate_series(1, {count}) AS g;
            """);
        // Autovacuum is off in the benchmark's cluster (run.sh), so that it cannot start in one target's run and not
        // the other's; the new rows are vacuumed and analyzed here instead.
        await ExecAsync("VACUUM ANALYZE orders");
        await ExecAsync("VACUUM ANALYZE order_lines");
        return (offset + 1, offset + count);
    }

    /// <summary>Before each measured run, so that no target pays for the WAL another one left behind.</summary>
    public Task CheckpointAsync() => ExecAsync("CHECKPOINT");

    public NpgsqlCommand Command(string sql) => db.CreateCommand(sql);

    public async Task ExecAsync(string sql)
    {
        await using var command = db.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>
/// Runs wrk (one thread, fixed concurrency) with a scenario script: a warm-up that is thrown away, so that both
/// targets are measured after the JIT has settled, then the measured run, the target's RSS sampled meanwhile.
/// </summary>
internal sealed class Wrk(Options options, string key, Seeder db)
{
    private const int MaxWarmupSeconds = 120;

    private static readonly JsonSerializerOptions SummaryJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly string Scripts = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "wrk"));

    /// <summary>A measured run of <paramref name="seconds"/> without a warm-up (the caller warmed the target up).</summary>
    public async Task<Result> MeasureAsync(Target target, string scenario, string ids, int seconds, long offset)
    {
        var run = await RunWrkAsync(target, scenario, ids, seconds, offset);
        return new Result(target.Name, scenario, run.Requests, run.SocketErrors + run.BadStatus, run.DurationUs / 1e6,
            run.P50Us / 1000.0, run.P95Us / 1000.0, run.P99Us / 1000.0, 0, 0);
    }

    public async Task<Result> RunAsync(Target target, string scenario, string ids)
    {
        Console.Error.Write($"{scenario} on {target.Name}: warming up");
        var (offset, warmedFor) = await WarmUpAsync(target, scenario, ids);
        Console.Error.WriteLine($" {warmedFor} s, then {options.Seconds} s measured...");
        await db.CheckpointAsync();
        using var rss = RssSampler.Start(target.Pid);
        var cpu = await CpuMeter.StartAsync(target, db);
        var run = await RunWrkAsync(target, scenario, ids, options.Seconds, offset);
        var used = await cpu.StopAsync();
        return new Result(target.Name, scenario, run.Requests, run.SocketErrors + run.BadStatus, run.DurationUs / 1e6,
            run.P50Us / 1000.0, run.P95Us / 1000.0, run.P99Us / 1000.0, rss.PeakMb, warmedFor)
        { Cpu = used };
    }

    /// <summary>
    /// Runs the scenario in 5-second windows until three windows in a row agree within 3 % (at least
    /// <c>--warmup</c> seconds, at most 120): the service's tiered JIT takes tens of seconds under load on two cores.
    /// </summary>
    private async Task<(long Offset, int Seconds)> WarmUpAsync(Target target, string scenario, string ids)
    {
        const int Window = 5;
        long offset = 0;
        var rates = new List<double>();
        while (true)
        {
            var window = await RunWrkAsync(target, scenario, ids, Window, offset);
            // Requests still in flight when a run stops were sent but not counted: skip as many ids.
            offset += window.Requests + options.Concurrency;
            rates.Add(window.Requests / (window.DurationUs / 1e6));
            Console.Error.Write($" {rates[^1]:0}");
            var elapsed = rates.Count * Window;
            var lastThree = rates.TakeLast(3).ToList();
            var settled = lastThree.Count == 3 && lastThree.Max() - lastThree.Min() <= 0.03 * lastThree.Max();
            if ((elapsed >= options.WarmupSeconds && settled) || elapsed >= MaxWarmupSeconds)
            {
                return (offset, elapsed);
            }
        }
    }

    private async Task<WrkSummary> RunWrkAsync(Target target, string scenario, string ids, int seconds, long offset)
    {
        var start = new ProcessStartInfo("wrk")
        {
            WorkingDirectory = Scripts,
            RedirectStandardOutput = true,
            ArgumentList =
            {
                "-t1", $"-c{options.Concurrency}", $"-d{seconds}s", "--timeout", "10s", "-s", $"{scenario}.lua",
                "-H", $"Authorization: Bearer {key}", target.Url, "--", ids, offset.ToString(CultureInfo.InvariantCulture),
            },
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start.");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'))
            ?? throw new InvalidOperationException($"wrk printed no summary (exit {process.ExitCode}):\n{output}");
        return JsonSerializer.Deserialize<WrkSummary>(line, SummaryJson)!;
    }

    private sealed record WrkSummary(long Requests, long DurationUs, long P50Us, long P95Us, long P99Us, long SocketErrors, long BadStatus);
}

/// <summary>
/// CPU used between start and stop by a target's process and by the PostgreSQL backends whose application name starts
/// with the target's (<c>utime + stime</c> of <c>/proc/&lt;pid&gt;/stat</c>, both pools of the service included). A
/// backend that connects meanwhile counts from zero; one that closes meanwhile is lost (the pools keep theirs for a
/// minute idle, far longer than a measured run).
/// </summary>
internal sealed class CpuMeter
{
    private static readonly double TicksPerSecond = ClockTicks();

    private readonly Target _target;
    private readonly Seeder _db;
    private readonly double _process;
    private readonly Dictionary<int, double> _backends;

    private CpuMeter(Target target, Seeder db, double process, Dictionary<int, double> backends) =>
        (_target, _db, _process, _backends) = (target, db, process, backends);

    public static async Task<CpuMeter> StartAsync(Target target, Seeder db)
    {
        var backends = await BackendsAsync(target, db);
        return new CpuMeter(target, db, Seconds(target.Pid) ?? 0, backends);
    }

    public async Task<CpuUse> StopAsync()
    {
        var process = (Seconds(_target.Pid) ?? _process) - _process;
        var backends = await BackendsAsync(_target, _db);
        var database = backends.Sum(backend => backend.Value - _backends.GetValueOrDefault(backend.Key));
        return new CpuUse(process, database);
    }

    private static async Task<Dictionary<int, double>> BackendsAsync(Target target, Seeder db)
    {
        await using var command = db.Command("SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1");
        command.Parameters.Add(new NpgsqlParameter { Value = target.ApplicationName + "%" });
        var pids = new List<int>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                pids.Add(reader.GetInt32(0));
            }
        }

        return pids.Select(pid => (pid, seconds: Seconds(pid))).Where(p => p.seconds is not null).ToDictionary(p => p.pid, p => p.seconds!.Value);
    }

    /// <summary>The process's user and system CPU so far, in seconds; null once it is gone.</summary>
    private static double? Seconds(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    private static double ClockTicks()
    {
        using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true })!;
        var text = getconf.StandardOutput.ReadToEnd().Trim();
        getconf.WaitForExit();
        return double.Parse(text, CultureInfo.InvariantCulture);
    }
}

/// <summary>Samples a process's resident set every 50 ms; the peak is what the table reports.</summary>
internal sealed class RssSampler : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peakKb;

    private RssSampler(int pid) => _loop = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture, out var kb) && kb > _peakKb)
            {
                _peakKb = kb;
            }

            await Task.Delay(50);
        }
    });

    public double PeakMb
    {
        get
        {
            _stop.Cancel();
            _loop.Wait();
            return _peakKb / 1024.0;
        }
    }

    public static RssSampler Start(int pid) => new(pid);

    public void Dispose() => _stop.Dispose();
}

internal static class Sweep
{
    /// <summary>
    /// Scheduled cancellations all due at once: the service's sweep (through the test run route) against
    /// one set-based SQL UPDATE of an identical set of rows.
    /// </summary>
    public static async Task<SweepResult> RunAsync(HttpClient http, Seeder seeder, Options options, int orders)
    {
        Console.Error.WriteLine($"Seeding {orders} scheduled cancellations twice...");
        var template = await seeder.CreateAsync(quantity: 2);
        // Tomorrow where the order lives: UTC's tomorrow is already today in Paris after 23:00 UTC, and the cancel
        // would then apply at once instead of being scheduled.
        var there = TimeZoneInfo.ConvertTimeBySystemTimeZoneId(DateTime.UtcNow, Seeder.TimeZone);
        var due = DateOnly.FromDateTime(there).AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        using (var scheduling = await http.PostAsync($"{options.Service}/v1/orders/{template}/cancel",
            new StringContent($$"""{"reason":"customer_request","effective_date":"{{due}}"}""", Encoding.UTF8, "application/json")))
        {
            scheduling.EnsureSuccessStatusCode();
        }

        // The copies carry the template's schedule; the template itself is taken out of the sweep.
        var first = await seeder.CopiesAsync(template, orders);
        var second = await seeder.CopiesAsync(template, orders);
        await seeder.ExecAsync($"UPDATE orders SET next_change_due_at = NULL, scheduled_cancellation = NULL WHERE id = {template}");
        await seeder.ExecAsync($"UPDATE orders SET next_change_due_at = NULL WHERE id BETWEEN {second.From} AND {second.To}");

        // As before every measured run: the rows just written are vacuumed (autovacuum is off here) and the WAL the
        // seeding and the load scenarios left behind is checkpointed, so neither sweep pays for it.
        await seeder.ExecAsync("VACUUM ANALYZE orders");
        await seeder.CheckpointAsync();
        Console.Error.WriteLine("Sweeping with the service...");
        using var rss = RssSampler.Start(options.ServicePid);
        var stopwatch = Stopwatch.StartNew();
        using var run = await http.PostAsync($"{options.Service}/v1/test/scheduled-changes/run",
            new StringContent($$"""{"as_of":"{{DateTime.UtcNow.AddDays(3):yyyy-MM-dd}}T00:00:00Z"}""", Encoding.UTF8, "application/json"));
        run.EnsureSuccessStatusCode();
        var serviceSeconds = stopwatch.Elapsed.TotalSeconds;
        var peak = rss.PeakMb;
        var applied = JsonDocument.Parse(await run.Content.ReadAsStringAsync()).RootElement.GetProperty("applied").GetInt32();
        var seeded = first.To - first.From + 1;
        Console.Error.WriteLine($"Service applied {applied} of {seeded} in {serviceSeconds:0.0} s");
        if (applied != seeded)
        {
            throw new InvalidOperationException($"The sweep applied {applied} of {seeded} scheduled cancellations.");
        }

        Console.Error.WriteLine("Sweeping the same number of rows with one set-based UPDATE...");
        await seeder.CheckpointAsync();
        stopwatch.Restart();
        await seeder.ExecAsync($"""
            BEGIN;
            UPDATE order_lines SET cancelled_quantity = quantity WHERE order_id BETWEEN {second.From} AND {second.To};
            UPDATE orders SET status = 'cancelled', shipping_waived = TRUE, scheduled_cancellation = NULL,
                next_change_due_at = NULL, cancelled_at = now(), updated_at = now(), version = version + 1
            WHERE id BETWEEN {second.From} AND {second.To} AND scheduled_cancellation IS NOT NULL;
            COMMIT;
            """);
        var setBasedSeconds = stopwatch.Elapsed.TotalSeconds;
        return new SweepResult(applied, serviceSeconds, setBasedSeconds, peak);
    }
}

/// <summary>
/// A backlog of unpaid one-time orders past their <c>expires_at</c>, all due at once, cancelled by the
/// scheduler's sweep (through the test run route, as the sweep is) with reason <c>expired</c>.
/// </summary>
internal static class Expiry
{
    public const int WarmUpOrders = 20_000;

    public static async Task<JobRun> RunAsync(HttpClient http, Seeder seeder, Options options, int orders)
    {
        // Due tomorrow and swept as of the day after (as the scheduled cancellations are): the service's own worker,
        // sweeping as of now, must not take a share of them while the run is timed.
        Console.Error.WriteLine($"Seeding {orders} unpaid orders expiring tomorrow...");
        var template = await seeder.CreateAsync(quantity: 2);
        var (from, to) = await seeder.CopiesAsync(template, orders);
        await seeder.ExecAsync($"""
            UPDATE orders SET expires_at = now() + interval '1 day', next_change_due_at = now() + interval '1 day'
            WHERE id BETWEEN {from} AND {to}
            """);
        await seeder.ExecAsync("VACUUM ANALYZE orders");
        await seeder.CheckpointAsync();
        Console.Error.WriteLine("Expiring them with the service...");
        using var rss = RssSampler.Start(options.ServicePid);
        var stopwatch = Stopwatch.StartNew();
        using var run = await http.PostAsync($"{options.Service}/v1/test/scheduled-changes/run",
            new StringContent($$"""{"as_of":"{{DateTime.UtcNow.AddDays(2):yyyy-MM-ddTHH:mm:ss}}Z"}""", Encoding.UTF8, "application/json"));
        run.EnsureSuccessStatusCode();
        var seconds = stopwatch.Elapsed.TotalSeconds;
        var peak = rss.PeakMb;
        var applied = JsonDocument.Parse(await run.Content.ReadAsStringAsync()).RootElement.GetProperty("applied").GetInt32();
        await using var count = seeder.Command($"""
            SELECT count(*) FROM orders
            WHERE id BETWEEN {from} AND {to} AND status = 'cancelled' AND expires_at IS NULL
              AND cancellations -> 0 ->> 'Reason' = 'expired'
            """);
        var expired = (int)(long)(await count.ExecuteScalarAsync())!;
        Console.Error.WriteLine($"Service expired {expired} of {orders} (applied {applied}) in {seconds:0.0} s");
        if (expired != orders || applied != orders)
        {
            throw new InvalidOperationException($"The sweep expired {expired} (applied {applied}) of {orders} orders.");
        }

        return new JobRun(orders, expired, 0, seconds, peak);
    }
}

internal sealed record EventsFeed(Guid PartnerId, string Cursors, DateTimeOffset CancelledFrom, DateTimeOffset CancelledTo);

internal sealed record RecoveryRun(int Queued, double Seconds, int Calls);

/// <summary>
/// 5,000,000 events of one partner, written by 5,000 transactions of 1,000 (so the feed's transaction order has work to
/// do), each with the payload of a real <c>order.created</c> event; one in ten an <c>order.cancelled</c>.
/// </summary>
internal static class EventsBench
{
    public const int Events = 5_000_000;
    private const int PerTransaction = 1_000;

    public static async Task<EventsFeed> SeedAsync(Seeder seeder, int events)
    {
        var start = DateTimeOffset.UtcNow.AddDays(-20);
        var template = await seeder.CreateAsync(quantity: 2);
        await using var partner = seeder.Command($"SELECT partner_id FROM orders WHERE id = {template}");
        var partnerId = (Guid)(await partner.ExecuteScalarAsync())!;
        Console.Error.WriteLine($"Seeding {events} events in transactions of {PerTransaction}...");
        var stopwatch = Stopwatch.StartNew();
        // Spread over the last 20 days (inside the feed's 30), 300 ms apart in sequence order, from a fixed start (now()
        // would move with each of the block's transactions).
        await seeder.ExecAsync($"""
            DO $$
            DECLARE payload json := (SELECT data FROM order_events WHERE order_id = {template} ORDER BY sequence LIMIT 1);
            BEGIN
                FOR t IN 0..{events / PerTransaction - 1} LOOP
                    INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
                    SELECT gen_random_uuid(), '{partnerId}', {template},
                           CASE WHEN g % 10 = 0 THEN 'order.cancelled' ELSE 'order.created' END,
                           '{start:O}'::timestamptz + (t * {PerTransaction} + g) * interval '300 milliseconds', 'bench', payload
                    FROM generate_series(1, {PerTransaction}) AS g;
                    COMMIT;
                END LOOP;
            END $$;
            """);
        await seeder.ExecAsync("VACUUM ANALYZE order_events");
        Console.Error.WriteLine($"Seeded in {stopwatch.Elapsed.TotalSeconds:0} s.");

        var file = Path.Combine(Path.GetTempPath(), $"ordercancel-bench-events-{Environment.ProcessId}.ids");
        await using (var sample = seeder.Command($"""
            SELECT tx_id::text, sequence, (extract(epoch FROM occurred_at) * 1000)::bigint
            FROM order_events TABLESAMPLE SYSTEM (1) WHERE partner_id = '{partnerId}' LIMIT 10000
            """))
        await using (var reader = await sample.ExecuteReaderAsync())
        await using (var writer = new StreamWriter(file))
        {
            while (await reader.ReadAsync())
            {
                var position = string.Create(CultureInfo.InvariantCulture, $"e1.{reader.GetString(0)}.{reader.GetInt64(1)}.{reader.GetInt64(2)}");
                await writer.WriteLineAsync(Convert.ToBase64String(Encoding.ASCII.GetBytes(position)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));
            }
        }

        // 1,000,000 events of the window, 100,000 of them cancellations: what the recovery queues.
        var from = start.AddSeconds(300);
        return new EventsFeed(partnerId, file, from, from.AddSeconds(300_000));
    }

    public static async Task<RecoveryRun> RecoverAsync(HttpClient http, Seeder seeder, Options options, EventsFeed feed)
    {
        using var created = await http.PostAsync($"{options.Service}/v1/webhooks", new StringContent(
            """{"url":"https://receiver.invalid/hooks","events":["order.cancelled"]}""", Encoding.UTF8, "application/json"));
        created.EnsureSuccessStatusCode();
        var endpoint = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        await seeder.CheckpointAsync();
        Console.Error.WriteLine("Recovering a window of 100,000 cancellations, following next_since...");
        var stopwatch = Stopwatch.StartNew();
        var (queued, calls) = await OutboxBench.RecoverAllAsync(http, options, endpoint, feed.CancelledFrom, feed.CancelledTo);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"Queued {queued} in {calls} calls, {seconds:0.00} s.");
        using var deleted = await http.DeleteAsync($"{options.Service}/v1/webhooks/{endpoint}");
        return new RecoveryRun(queued, seconds, calls);
    }
}

internal sealed record JobRun(int Orders, int Cancelled, int Refused, double Seconds, double PeakRssMb)
{
    public double PerSecond => Orders / Seconds;
}

internal sealed record BulkResult(JobRun Alone, JobRun Beside, Result GetAlone, Result GetDuringJob, Result GetAloneAfter);

/// <summary>
/// A recall: 100,000 orders carrying one SKU (70 % pending, 20 % active subscriptions, 10 % paid) cancelled whole by one
/// job, first alone (its rate and memory against the sweep's), then another 100,000 with single-order gets beside it
/// (their p99 against the same gets alone, just before).
/// </summary>
internal static class Bulk
{
    public const int Orders = 100_000;

    public const int WarmUpOrders = 20_000;

    public static async Task<JobRun> AloneAsync(HttpClient http, Seeder seeder, Options options, string sku, int orders) =>
        (await RecallAsync(http, seeder, options, sku, orders, () => Task.FromResult<Result?>(null))).Job;

    /// <summary>Gets alone (after a warm-up), gets during a job's first seconds, gets alone again once it is done.</summary>
    public static async Task<BulkResult> BesideGetsAsync(HttpClient http, Seeder seeder, Wrk wrk, string getPool, Options options, JobRun alone)
    {
        var service = Target.All(options)[0];
        Console.Error.WriteLine("Single-order gets alone (after a warm-up)...");
        var getsBefore = await wrk.RunAsync(service, "get", getPool);
        var beside = await RecallAsync(http, seeder, options, "RECALL-BESIDE", Orders, async () => await wrk.MeasureAsync(service, "get", getPool, options.Seconds, offset: 0));
        Console.Error.WriteLine("Single-order gets alone again...");
        var getsAfter = await wrk.MeasureAsync(service, "get", getPool, options.Seconds, offset: 0);
        return new BulkResult(alone, beside.Job, getsBefore, beside.Gets!, getsAfter);
    }

    /// <summary>Seeds the recall's orders, runs the job (with <paramref name="beside"/> from its start) and waits for it.</summary>
    private static async Task<(JobRun Job, Result? Gets)> RecallAsync(
        HttpClient http, Seeder seeder, Options options, string sku, int orders, Func<Task<Result?>> beside)
    {
        Console.Error.WriteLine($"Seeding {orders} orders with {sku} (70 % pending, 20 % active, 10 % paid)...");
        var pending = await seeder.CreateAsync(quantity: 2, firstSku: sku);
        var active = await seeder.CreateAsync(quantity: 2, firstSku: sku, recurring: true);
        var paid = await seeder.CreateAsync(quantity: 2, firstSku: sku);
        using (var order = await http.GetAsync($"{options.Service}/v1/orders/{paid}"))
        {
            var due = JsonDocument.Parse(await order.Content.ReadAsStringAsync()).RootElement.GetProperty("amount_due").GetDecimal();
            using var payment = await http.PostAsync($"{options.Service}/v1/orders/{paid}/payments",
                new StringContent($$"""{"method":"card","amount":{{due.ToString(CultureInfo.InvariantCulture)}}}""", Encoding.UTF8, "application/json"));
            payment.EnsureSuccessStatusCode();
        }

        await seeder.CopiesAsync(pending, orders * 7 / 10 - 1);
        await seeder.CopiesAsync(active, orders * 2 / 10 - 1);
        await seeder.CopiesAsync(paid, orders / 10 - 1);
        await seeder.CheckpointAsync();

        Console.Error.WriteLine($"The {sku} job...");
        using var rss = RssSampler.Start(options.ServicePid);
        using var created = await http.PostAsync($"{options.Service}/v1/cancellation-jobs",
            new StringContent($$"""{"filter":{"sku":"{{sku}}"},"reason":"out_of_stock","note":"Bench recall."}""", Encoding.UTF8, "application/json"));
        created.EnsureSuccessStatusCode();
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        var gets = await beside();
        // Polled as a partner following the answers' Retry-After would (1 s while the job is queued or running);
        // before it was given, every 100 ms: ~110 polls a job instead of ~11 (bench/HISTORY.md).
        var polls = 0;
        JsonElement job;
        while (true)
        {
            using var response = await http.GetAsync($"{options.Service}/v1/cancellation-jobs/{id}");
            polls++;
            job = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (job.GetProperty("status").GetString() == "completed")
            {
                break;
            }

            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        }

        var peak = rss.PeakMb;
        var seconds = (job.GetProperty("finished_at").GetDateTimeOffset() - job.GetProperty("started_at").GetDateTimeOffset()).TotalSeconds;
        var counts = job.GetProperty("counts");
        Console.Error.WriteLine($"Job: {counts} in {seconds:0.0} s, {polls} polls");
        if (counts.GetProperty("matched").GetInt32() != orders || counts.GetProperty("processed").GetInt32() != orders)
        {
            throw new InvalidOperationException($"The job did not process the {orders} recall orders: {counts}");
        }

        return (new JobRun(orders, counts.GetProperty("cancelled").GetInt32(), counts.GetProperty("refused").GetInt32(), seconds, peak), gets);
    }
}

internal static class Report
{
    public static void PrintLoad(List<Result> results, Options options)
    {
        var raw = results.Where(r => r.Target == "raw").ToDictionary(r => r.Scenario);
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; wrk, one thread, {options.Concurrency} connections; {options.Seconds} s per scenario after a warm-up of at least {options.WarmupSeconds} s, until three 5-s windows agree within 3 %; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        table.AppendLine();
        table.AppendLine("CPU ms per request: the target's process, its PostgreSQL backends, and both (from /proc, over the measured window).");
        table.AppendLine();
        table.AppendLine("| scenario | target | warm-up s | requests/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB | CPU ms/req process | CPU ms/req PostgreSQL | CPU ms/req total | service ÷ raw |");
        table.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            var ratio = r.Target == "service" && raw.TryGetValue(r.Scenario, out var baseline) ? (r.PerSecond / baseline.PerSecond).ToString("0.00", CultureInfo.InvariantCulture) : "";
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Target} | {r.WarmupSeconds} | {r.PerSecond:0} | {r.P50:0.0} | {r.P95:0.0} | {r.P99:0.0} | {r.Errors} | {r.PeakRssMb:0} | {Ms(r, c => c.ProcessSeconds)} | {Ms(r, c => c.DatabaseSeconds)} | {Ms(r, c => c.TotalSeconds)} | {ratio} |");
        }

        var old = results.Where(r => r.Target == "old").ToDictionary(r => r.Scenario);
        if (old.Count > 0)
        {
            table.AppendLine();
            table.AppendLine("| scenario | service ÷ old, requests/s | service ÷ old, CPU per request (process + PostgreSQL) | old ÷ raw, requests/s |");
            table.AppendLine("| --- | ---: | ---: | ---: |");
            foreach (var r in results.Where(r => r.Target == "service" && old.ContainsKey(r.Scenario)))
            {
                var before = old[r.Scenario];
                var cpu = r.Cpu is { } now && before.Cpu is { } then
                    ? (Total(now, r) / Total(then, before)).ToString("0.00", CultureInfo.InvariantCulture)
                    : "";
                var oldToRaw = raw.TryGetValue(r.Scenario, out var baseline) ? (before.PerSecond / baseline.PerSecond).ToString("0.00", CultureInfo.InvariantCulture) : "";
                table.AppendLine(CultureInfo.InvariantCulture, $"| {r.Scenario} | {r.PerSecond / before.PerSecond:0.00} | {cpu} | {oldToRaw} |");
            }
        }

        Console.WriteLine(table.ToString());

        static double Total(CpuUse cpu, Result r) => CpuUse.MsPerRequest(cpu.TotalSeconds, r.Requests);

        static string Ms(Result r, Func<CpuUse, double> seconds) =>
            r.Cpu is { } cpu ? CpuUse.MsPerRequest(seconds(cpu), r.Requests).ToString("0.000", CultureInfo.InvariantCulture) : "";
    }

    /// <summary>
    /// The rows of bench/cluster.sh's load table (the script prints its heading): one per scenario of this rotation.
    /// A run without a warm-up samples no RSS.
    /// </summary>
    public static void PrintClusterRows(List<Result> runs)
    {
        foreach (var r in runs)
        {
            var rss = r.PeakRssMb > 0 ? r.PeakRssMb.ToString("0", CultureInfo.InvariantCulture) : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Target} | {r.WarmupSeconds} | {r.PerSecond:0} | {r.P50:0.0} | {r.P99:0.0} | {r.Errors} | {rss} |"));
        }
    }

    public static void PrintSweep(SweepResult sweep)
    {
        var table = new StringBuilder();
        table.AppendLine("| scheduler sweep | orders | seconds | orders/s | peak RSS MB |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        table.AppendLine(CultureInfo.InvariantCulture, $"| service (batches of the worker, events and outbox rows) | {sweep.Orders} | {sweep.ServiceSeconds:0.0} | {sweep.Orders / sweep.ServiceSeconds:0} | {sweep.PeakRssMb:0} |");
        table.AppendLine(CultureInfo.InvariantCulture, $"| one set-based SQL UPDATE (no events) | {sweep.Orders} | {sweep.SetBasedSeconds:0.0} | {sweep.Orders / sweep.SetBasedSeconds:0} | |");
        Console.WriteLine(table.ToString());
    }

    public static void PrintEvents(Result pages, Result[] gets, RecoveryRun recovery, int events)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"| over {events:N0} events, same run | requests/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, run) in new[] { ("GET /v1/orders/{id}, before", gets[0]), ("GET /v1/events?limit=100 from random cursors", pages), ("GET /v1/orders/{id}, after", gets[1]) })
        {
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {run.PerSecond:0} | {run.P50:0.0} | {run.P95:0.0} | {run.P99:0.0} | {run.Errors} | {run.PeakRssMb:0} |");
        }

        table.AppendLine();
        table.AppendLine("| webhook recovery | queued | seconds |");
        table.AppendLine("| --- | ---: | ---: |");
        table.AppendLine(CultureInfo.InvariantCulture, $"| POST /v1/webhooks/{{id}}/recover, one window ({recovery.Calls} calls following next_since) | {recovery.Queued} | {recovery.Seconds:0.00} |");
        Console.WriteLine(table.ToString());
    }

    public static void PrintOutbox(OutboxResult outbox)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture,
            $"| outbox, same run: {OutboxBench.Events:N0} events to {OutboxBench.FastEndpoints} fast endpoints of one partner | deliveries | seconds | deliveries/s | ÷ alone |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var (name, run) in new[] { ("alone", outbox.Alone), ($"beside another partner's backlog of {outbox.SlowBacklog:N0} to {OutboxBench.SlowEndpoints} endpoints answering after {OutboxBench.SlowAnswer.TotalSeconds:0} s", outbox.Beside), ("alone again", outbox.After) })
        {
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {run.Deliveries} | {run.Seconds:0.0} | {run.PerSecond:0} | {run.PerSecond / outbox.Alone.PerSecond:0.00} |");
        }

        table.AppendLine();
        table.AppendLine(CultureInfo.InvariantCulture,
            $"The slow neighbour's backlog drained at {outbox.SlowPerSecond:0.0} deliveries/s meanwhile (its endpoints allow endpoints × Webhooks:EndpointConcurrency / answer time).");
        Console.WriteLine(table.ToString());
    }

    public static void PrintExpiry(JobRun expiry, SweepResult before, SweepResult after)
    {
        double Rate(SweepResult sweep) => sweep.Orders / sweep.ServiceSeconds;
        var table = new StringBuilder();
        table.AppendLine("| expiry backlog (same run) | expired | seconds | orders/s | ÷ sweep before / after | peak RSS MB | ÷ sweep before / after |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        table.AppendLine(CultureInfo.InvariantCulture,
            $"| unpaid orders past expires_at, one sweep | {expiry.Cancelled} | {expiry.Seconds:0.0} | {expiry.PerSecond:0} | {expiry.PerSecond / Rate(before):0.00} / {expiry.PerSecond / Rate(after):0.00} | {expiry.PeakRssMb:0} | {expiry.PeakRssMb / before.PeakRssMb:0.00} / {expiry.PeakRssMb / after.PeakRssMb:0.00} |");
        Console.WriteLine(table.ToString());
    }

    /// <summary>Each job against the sweeps just before and just after it, and the median over the rounds.</summary>
    public static void PrintRounds(List<SweepResult> sweeps, List<JobRun> jobs)
    {
        double Rate(SweepResult sweep) => sweep.Orders / sweep.ServiceSeconds;
        var table = new StringBuilder();
        table.AppendLine("| round | sweep before: s (orders/s) | job alone: s (orders/s) | sweep after: s (orders/s) | job ÷ mean of the two sweeps | job RSS ÷ the two sweeps' (MB) |");
        table.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        List<double> ratios = [];
        List<double> memory = [];
        for (var i = 0; i < jobs.Count; i++)
        {
            var (before, job, after) = (sweeps[i], jobs[i], sweeps[i + 1]);
            var ratio = job.PerSecond / ((Rate(before) + Rate(after)) / 2);
            var rss = job.PeakRssMb / Math.Max(before.PeakRssMb, after.PeakRssMb);
            ratios.Add(ratio);
            memory.Add(rss);
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {i + 1} | {before.ServiceSeconds:0.0} ({Rate(before):0}) | {job.Seconds:0.0} ({job.PerSecond:0}) | {after.ServiceSeconds:0.0} ({Rate(after):0}) | {ratio:0.00} | {rss:0.00} ({job.PeakRssMb:0} / {before.PeakRssMb:0}, {after.PeakRssMb:0}) |");
        }

        table.AppendLine(CultureInfo.InvariantCulture, $"| median | | | | **{Median(ratios):0.00}** | **{Median(memory):0.00}** |");
        table.AppendLine();
        // The set-based UPDATE after each sweep runs no service code: how fast the database itself was at that moment.
        table.AppendLine("| sweep | " + string.Join(" | ", Enumerable.Range(1, sweeps.Count)) + " |");
        table.AppendLine("| --- |" + string.Concat(sweeps.Select(_ => " ---: |")));
        table.AppendLine("| its set-based UPDATE, s | " + string.Join(" | ", sweeps.Select(s => s.SetBasedSeconds.ToString("0.0", CultureInfo.InvariantCulture))) + " |");
        Console.WriteLine(table.ToString());
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static void PrintBulk(BulkResult bulk, SweepResult before, SweepResult after)
    {
        var table = new StringBuilder();
        double Rate(SweepResult sweep) => sweep.Orders / sweep.ServiceSeconds;
        table.AppendLine("| bulk job, 100,000 orders, filter sku, scope order (same run) | cancelled | refused | seconds | orders/s | ÷ sweep before / after | peak RSS MB | ÷ sweep before / after |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, run) in new[] { ("alone (between the two sweeps)", bulk.Alone), ($"with gets beside it ({bulk.GetDuringJob.Seconds:0} s of them)", bulk.Beside) })
        {
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {run.Cancelled} | {run.Refused} | {run.Seconds:0.0} | {run.PerSecond:0} | {run.PerSecond / Rate(before):0.00} / {run.PerSecond / Rate(after):0.00} | {run.PeakRssMb:0} | {run.PeakRssMb / before.PeakRssMb:0.00} / {run.PeakRssMb / after.PeakRssMb:0.00} |");
        }

        table.AppendLine();
        table.AppendLine("| single-order get | requests/s | p50 ms | p99 ms | p99 ÷ alone before / after |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        table.AppendLine(CultureInfo.InvariantCulture, $"| alone, before the job | {bulk.GetAlone.PerSecond:0} | {bulk.GetAlone.P50:0.0} | {bulk.GetAlone.P99:0.0} | |");
        table.AppendLine(CultureInfo.InvariantCulture,
            $"| during the job (its first {bulk.GetDuringJob.Seconds:0} s) | {bulk.GetDuringJob.PerSecond:0} | {bulk.GetDuringJob.P50:0.0} | {bulk.GetDuringJob.P99:0.0} | {bulk.GetDuringJob.P99 / bulk.GetAlone.P99:0.00} / {bulk.GetDuringJob.P99 / bulk.GetAloneAfter.P99:0.00} |");
        table.AppendLine(CultureInfo.InvariantCulture, $"| alone, after the job | {bulk.GetAloneAfter.PerSecond:0} | {bulk.GetAloneAfter.P50:0.0} | {bulk.GetAloneAfter.P99:0.0} | |");
        Console.WriteLine(table.ToString());
    }
}
