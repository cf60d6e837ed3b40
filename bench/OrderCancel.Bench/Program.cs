using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;

// Load generator for issue 6; bench/run.sh starts PostgreSQL, the service and the raw baseline, then runs this.
// Usage: OrderCancel.Bench --service URL --service-pid PID --raw URL --admin-key KEY --db CONNSTR
//        [--concurrency 32] [--seconds 10] [--sweep 100000]
var options = Options.Parse(args);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
{
    Timeout = TimeSpan.FromMinutes(15),
};

Console.Error.WriteLine("Creating the benchmark partner...");
var key = await Setup.CreatePartnerKeyAsync(http, options);
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);

Console.Error.WriteLine("Seeding orders through the API...");
var getPool = await Setup.CreateOrdersAsync(http, options.Service, 10_000, quantity: 2, options.Concurrency);
var quick = options.Only == "get";
var serviceCancelPool = quick ? [] : await Setup.CreateOrdersAsync(http, options.Service, Options.CancelPool, quantity: 2, options.Concurrency);
var rawCancelPool = quick ? [] : await Setup.CreateOrdersAsync(http, options.Service, Options.CancelPool, quantity: 2, options.Concurrency);
var partialPool = quick ? [] : await Setup.CreateOrdersAsync(http, options.Service, 2_000, quantity: 1_000_000, options.Concurrency);

var results = new List<Result>();
var random = new ThreadLocal<Random>(() => new Random(42));
string RandomGet() => $"/v1/orders/{getPool[random.Value!.Next(getPool.Count)]}";

foreach (var (target, url, pid) in new[] { ("service", options.Service, options.ServicePid), ("raw", options.Raw, options.RawPid) })
{
    results.Add(await Load.RunAsync(http, target, "get", url, pid, options, _ => (HttpMethod.Get, RandomGet(), null)));
}

if (quick)
{
    Report.PrintLoad(results, options);
    return;
}

var serviceNext = -1;
var rawNext = -1;
const string CancelBody = """{"reason":"customer_request"}""";
results.Add(await Load.RunAsync(http, "service", "cancel", options.Service, options.ServicePid, options, _ =>
    Interlocked.Increment(ref serviceNext) is var i && i < serviceCancelPool.Count ? (HttpMethod.Post, $"/v1/orders/{serviceCancelPool[i]}/cancel", CancelBody) : null));
results.Add(await Load.RunAsync(http, "raw", "cancel", options.Raw, options.RawPid, options, _ =>
    Interlocked.Increment(ref rawNext) is var i && i < rawCancelPool.Count ? (HttpMethod.Post, $"/v1/orders/{rawCancelPool[i]}/cancel", CancelBody) : null));
results.Add(await Load.RunAsync(http, "service", "partial", options.Service, options.ServicePid, options, _ =>
    (HttpMethod.Post, $"/v1/orders/{partialPool[random.Value!.Next(partialPool.Count)]}/cancel",
        $$"""{"reason":"out_of_stock","items":[{"line_id":{{random.Value!.Next(1, 4)}},"quantity":1}]}""")));
results.Add(await Load.RunAsync(http, "service", "list", options.Service, options.ServicePid, options, _ =>
    (HttpMethod.Get, "/v1/orders?status=pending&limit=20", null)));

Report.PrintLoad(results, options);
if (options.SweepOrders > 0)
{
    Report.PrintSweep(await Sweep.RunAsync(http, options));
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
    int SweepOrders,
    string? Only)
{
    public const int CancelPool = 40_000;

    public static Options Parse(string[] args)
    {
        string Get(string name, string? fallback = null)
        {
            var index = Array.IndexOf(args, "--" + name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback ?? throw new ArgumentException($"--{name} is required");
        }

        return new Options(
            Get("service"),
            int.Parse(Get("service-pid"), CultureInfo.InvariantCulture),
            Get("raw"),
            int.Parse(Get("raw-pid"), CultureInfo.InvariantCulture),
            Get("admin-key"),
            Get("db"),
            int.Parse(Get("concurrency", "32"), CultureInfo.InvariantCulture),
            int.Parse(Get("seconds", "10"), CultureInfo.InvariantCulture),
            int.Parse(Get("sweep", "100000"), CultureInfo.InvariantCulture),
            Get("only", "all"));
    }
}

internal sealed record Result(string Target, string Scenario, int Requests, int Errors, double Seconds, double P50, double P95, double P99, double PeakRssMb)
{
    public double PerSecond => Requests / Seconds;
}

internal sealed record SweepResult(int Orders, double ServiceSeconds, double SetBasedSeconds, double PeakRssMb);

internal static class Setup
{
    public static async Task<(Guid PartnerId, string Secret)> CreatePartnerKeyAsync(HttpClient http, Options options)
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

    /// <summary>Orders of three lines each, created through the API as partners would.</summary>
    public static async Task<List<long>> CreateOrdersAsync(HttpClient http, string service, int count, int quantity, int concurrency)
    {
        var ids = new ConcurrentBag<long>();
        var body = $$$"""
            {"kind":"one_time","currency":"EUR","time_zone":"Europe/Paris",
             "customer":{"ref":"cus_bench","email":"bench@example.com","first_name":"Bench","last_name":"Mark"},
             "lines":[{"sku":"A","name":"Item A","quantity":{{{quantity}}},"unit_price":19.90,"discount":1.50,"tax_rate":0.2},
                      {"sku":"B","name":"Item B","quantity":{{{quantity}}},"unit_price":5.00},
                      {"sku":"C","name":"Item C","quantity":{{{quantity}}},"unit_price":12.35,"tax_rate":0.055}],
             "shipping_cost":4.90,"metadata":{"source":"bench"}}
            """;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (_, token) =>
        {
            using var response = await http.PostAsync(service + "/v1/orders", new StringContent(body, Encoding.UTF8, "application/json"), token);
            response.EnsureSuccessStatusCode();
            using var created = JsonDocument.Parse(await response.Content.ReadAsStringAsync(token));
            ids.Add(created.RootElement.GetProperty("id").GetInt64());
        });
        return [.. ids.Order()];
    }
}

internal static class Load
{
    /// <summary>Fixed concurrency for a fixed time after a short warm-up; latency of every request.</summary>
    public static async Task<Result> RunAsync(
        HttpClient http, string target, string scenario, string baseUrl, int pid, Options options,
        Func<int, (HttpMethod Method, string Path, string? Body)?> next)
    {
        Console.Error.WriteLine($"{scenario} on {target}...");
        await DriveAsync(http, baseUrl, options.Concurrency, TimeSpan.FromSeconds(2), next, null);
        var latencies = new ConcurrentBag<double>();
        var errors = 0;
        using var rss = RssSampler.Start(pid);
        var stopwatch = Stopwatch.StartNew();
        var count = await DriveAsync(http, baseUrl, options.Concurrency, TimeSpan.FromSeconds(options.Seconds), next, (ms, ok) =>
        {
            latencies.Add(ms);
            if (!ok)
            {
                Interlocked.Increment(ref errors);
            }
        });
        var elapsed = stopwatch.Elapsed.TotalSeconds;
        var sorted = latencies.Order().ToArray();
        double Percentile(double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
        return new Result(target, scenario, count, errors, elapsed, Percentile(0.50), Percentile(0.95), Percentile(0.99), rss.PeakMb);
    }

    private static async Task<int> DriveAsync(
        HttpClient http, string baseUrl, int concurrency, TimeSpan duration,
        Func<int, (HttpMethod Method, string Path, string? Body)?> next, Action<double, bool>? record)
    {
        var deadline = Stopwatch.StartNew();
        var total = 0;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            while (deadline.Elapsed < duration && next(worker) is { } call)
            {
                using var request = new HttpRequestMessage(call.Method, baseUrl + call.Path);
                if (call.Body is not null)
                {
                    request.Content = new StringContent(call.Body, Encoding.UTF8, "application/json");
                }

                var started = Stopwatch.GetTimestamp();
                var ok = false;
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
                    ok = response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                }

                record?.Invoke(Stopwatch.GetElapsedTime(started).TotalMilliseconds, ok);
                Interlocked.Increment(ref total);
            }
        }));
        return total;
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
    public static async Task<SweepResult> RunAsync(HttpClient http, Options options)
    {
        Console.Error.WriteLine($"Seeding {options.SweepOrders} scheduled cancellations...");
        var template = (await Setup.CreateOrdersAsync(http, options.Service, 1, quantity: 2, 1))[0];
        var due = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        using (var scheduling = await http.PostAsync($"{options.Service}/v1/orders/{template}/cancel",
            new StringContent($$"""{"reason":"customer_request","effective_date":"{{due}}"}""", Encoding.UTF8, "application/json")))
        {
            scheduling.EnsureSuccessStatusCode();
        }

        await using var db = NpgsqlDataSource.Create(options.Database);
        // The copies carry the template's schedule; the template itself is taken out of the sweep.
        string schedule;
        DateTimeOffset dueAt;
        await using (var read = db.CreateCommand($"SELECT scheduled_cancellation::text, next_change_due_at FROM orders WHERE id = {template}"))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            schedule = reader.GetString(0);
            dueAt = reader.GetFieldValue<DateTimeOffset>(1);
        }

        await Exec(db, $"UPDATE orders SET next_change_due_at = NULL, scheduled_cancellation = NULL WHERE id = {template}");
        await CopyAsync(db, template, options.SweepOrders, offset: 100_000_000, (schedule, dueAt));
        await Exec(db, "ANALYZE orders; ANALYZE order_lines;");

        Console.Error.WriteLine("Sweeping with the service...");
        using var rss = RssSampler.Start(options.ServicePid);
        var stopwatch = Stopwatch.StartNew();
        using var run = await http.PostAsync($"{options.Service}/v1/test/scheduled-changes/run",
            new StringContent($$"""{"as_of":"{{DateTime.UtcNow.AddDays(3):yyyy-MM-dd}}T00:00:00Z"}""", Encoding.UTF8, "application/json"));
        run.EnsureSuccessStatusCode();
        var serviceSeconds = stopwatch.Elapsed.TotalSeconds;
        var peak = rss.PeakMb;
        var applied = JsonDocument.Parse(await run.Content.ReadAsStringAsync()).RootElement.GetProperty("applied").GetInt32();
        Console.Error.WriteLine($"Service applied {applied} in {serviceSeconds:0.0} s");

        Console.Error.WriteLine("Sweeping the same number of rows with one set-based UPDATE...");
        var second = await CopyAsync(db, template, options.SweepOrders, offset: 200_000_000, (schedule, dueAt));
        await Exec(db, "ANALYZE orders; ANALYZE order_lines;");
        stopwatch.Restart();
        await Exec(db, $"""
            BEGIN;
            UPDATE order_lines SET cancelled_quantity = quantity WHERE order_id BETWEEN {second.From} AND {second.To};
            UPDATE orders SET status = 'cancelled', shipping_waived = TRUE, scheduled_cancellation = NULL,
                next_change_due_at = NULL, cancelled_at = now(), updated_at = now(), version = version + 1
            WHERE id BETWEEN {second.From} AND {second.To} AND next_change_due_at <= now() + interval '3 days';
            COMMIT;
            """);
        var setBasedSeconds = stopwatch.Elapsed.TotalSeconds;
        return new SweepResult(applied, serviceSeconds, setBasedSeconds, peak);
    }

    /// <summary>Copies the template order (and its lines) <paramref name="count"/> times under new ids.</summary>
    private static async Task<(long From, long To)> CopyAsync(
        NpgsqlDataSource db, long template, int count, long offset, (string Json, DateTimeOffset DueAt) schedule)
    {
        await Exec(db, $"""
            INSERT INTO orders (id, partner_id, kind, status, reference, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, next_change_due_at, cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, scheduled_cancellation, scheduled_reactivation)
            SELECT {offset} + g, partner_id, kind, status, NULL, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, '{schedule.DueAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00', cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, '{schedule.Json.Replace("'", "''", StringComparison.Ordinal)}'::jsonb, scheduled_reactivation
            FROM orders, generate_series(1, {count}) AS g WHERE id = {template};
            INSERT INTO order_lines (id, order_id, sku, name, quantity, cancelled_quantity, unit_price, discount, tax_rate, metadata)
            SELECT l.id, {offset} + g, l.sku, l.name, l.quantity, l.cancelled_quantity, l.unit_price, l.discount, l.tax_rate, l.metadata
            FROM order_lines l, generate_series(1, {count}) AS g WHERE l.order_id = {template};
            """);
        return (offset + 1, offset + count);
    }

    private static async Task Exec(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync();
    }
}

internal static class Report
{
    public static void PrintLoad(List<Result> results, Options options)
    {
        var raw = results.Where(r => r.Target == "raw").ToDictionary(r => r.Scenario);
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; concurrency {options.Concurrency}; {options.Seconds} s per scenario after 2 s warm-up; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        table.AppendLine();
        table.AppendLine("| scenario | target | requests/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB | service ÷ raw |");
        table.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            var ratio = r.Target == "service" && raw.TryGetValue(r.Scenario, out var baseline) ? (r.PerSecond / baseline.PerSecond).ToString("0.00", CultureInfo.InvariantCulture) : "";
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Target} | {r.PerSecond:0} | {r.P50:0.0} | {r.P95:0.0} | {r.P99:0.0} | {r.Errors} | {r.PeakRssMb:0} | {ratio} |");
        }

        Console.WriteLine(table.ToString());
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
}
