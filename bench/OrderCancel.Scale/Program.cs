using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;

// The scale scenario (bench/scale.sh starts PostgreSQL and the service, then runs this): one partner with
// --big orders (5,000,000), another with --small (10,000), on one database; then p50 and p99 at concurrency 8 of
// every partner-facing read for both, side by side, and the ratio. Orders are seeded in SQL from templates made
// through the API (a pending, paid, cancelled, active, cancelled recurring and a scheduled one), so every row is a
// real order: 3 lines, its events, customers with ~5 orders each, unique references, a year of creation times.
// Usage: OrderCancel.Scale --service URL --admin-key KEY --db CONNSTR [--big 5000000] [--small 10000] [--requests 400]
var service = Arg("service");
var adminKey = Arg("admin-key");
var big = int.Parse(Arg("big", "5000000"), CultureInfo.InvariantCulture);
var small = int.Parse(Arg("small", "10000"), CultureInfo.InvariantCulture);
var requests = int.Parse(Arg("requests", "400"), CultureInfo.InvariantCulture);
await using var db = NpgsqlDataSource.Create(Arg("db"));
using var http = new HttpClient { BaseAddress = new Uri(service), Timeout = TimeSpan.FromMinutes(5) };

var seeder = new Seeder(http, db, adminKey);
const string OrderBody = """
    {"kind":"one_time","currency":"EUR","customer":{"ref":"cus_write","email":"w@example.com","first_name":"W","last_name":"R"},
     "lines":[{"sku":"A","name":"A","quantity":2,"unit_price":19.90},{"sku":"B","name":"B","quantity":1,"unit_price":5.00},
              {"sku":"C","name":"C","quantity":3,"unit_price":12.35}],"shipping_cost":4.90}
    """;
var clock = Stopwatch.StartNew();
var large = await seeder.PartnerAsync("large", big, offset: 1_000_000_000);
var little = await seeder.PartnerAsync("small", small, offset: 9_000_000_000);
await seeder.ExecAsync("VACUUM ANALYZE");
Console.Error.WriteLine($"Seeded {big:N0} + {small:N0} orders in {clock.Elapsed.TotalMinutes:0.0} min.");

// The same run measures the list's indexes both ways: first without the three below, then with them
// (built here, timed), so every figure and its ratio come from one database and one warm service.
(string Name, string Create)[] added =
[
    ("ix_orders_partner_id_kind_created_at_id", "(partner_id, kind, created_at DESC, id DESC)"),
    ("ix_orders_partner_id_status_kind_created_at_id", "(partner_id, status, kind, created_at DESC, id DESC)"),
    ("ix_orders_partner_id_customer_ref_created_at_id", "(partner_id, customer_ref, created_at DESC, id DESC)"),
];
if (args.Contains("--only-with"))
{
    // Only the indexes as they are: for a steadier p99 with more requests, after a comparing run.
    Console.WriteLine("### Reads\n");
    Console.WriteLine(await ReadsAsync("with"));
    await seeder.SizesAsync();
    return;
}

foreach (var (name, _) in added)
{
    await seeder.ExecAsync($"DROP INDEX IF EXISTS {name}");
}

var withoutReads = await ReadsAsync("without the three indexes");
var withoutWrites = await WritesAsync("without", 0);
foreach (var (name, columns) in added)
{
    var built = Stopwatch.StartNew();
    await seeder.ExecAsync($"CREATE INDEX {name} ON orders {columns}");
    Console.Error.WriteLine($"Built {name} over {big + small:N0} orders in {built.Elapsed.TotalSeconds:0} s.");
}

await seeder.ExecAsync("ANALYZE orders");
var withReads = await ReadsAsync("with them");
var withWrites = await WritesAsync("with", 1);
Console.WriteLine("### Reads without the three indexes\n");
Console.WriteLine(withoutReads);
Console.WriteLine("### Reads with them\n");
Console.WriteLine(withReads);
Console.WriteLine("### Writes on the 5M-order table\n");
Console.WriteLine("| write | without: req/s, p50 ms | with: req/s, p50 ms |");
Console.WriteLine("| --- | ---: | ---: |");
foreach (var (label, before) in withoutWrites)
{
    var after = withWrites[label];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {before.PerSecond:N0}, {before.P50:0.0} | {after.PerSecond:N0}, {after.P50:0.0} |"));
}

Console.WriteLine();
await seeder.SizesAsync();
return;

async Task<string> ReadsAsync(string label)
{
    var table = new StringBuilder();
    table.AppendLine(CultureInfo.InvariantCulture, $"| request | {small:N0} orders p50 / p99 (ms) | {big:N0} orders p50 / p99 (ms) | ratio p50 / p99 |");
    table.AppendLine("| --- | ---: | ---: | ---: |");
    foreach (var (name, path) in Requests())
    {
        var (smallP50, smallP99) = await MeasureAsync(little, path);
        var (bigP50, bigP99) = await MeasureAsync(large, path);
        var row = string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {smallP50:0.0} / {smallP99:0.0} | {bigP50:0.0} / {bigP99:0.0} | {bigP50 / smallP50:0.00} / {bigP99 / smallP99:0.00} |");
        table.AppendLine(row);
        Console.Error.WriteLine($"{label}: {row}");
    }

    return table.ToString();
}

// Creates and full cancels of the big partner's pending orders (each phase its own), and a scheduler sweep of 5,000
// due cancellations of a partner seeded for it: what the indexes cost every write.
async Task<Dictionary<string, (double PerSecond, double P50)>> WritesAsync(string label, int phase)
{
    var results = new Dictionary<string, (double PerSecond, double P50)>();
    const int Writes = 1_000;
    var pending = Enumerable.Range(0, Writes).Select(i => large.FirstOrder + (phase * Writes + i) * 100L + 1).ToArray();
    results["create an order"] = await TimedAsync(Writes, i => ("POST /v1/orders", OrderBody));
    results["full cancel"] = await TimedAsync(Writes, i => ($"POST /v1/orders/{pending[i]}/cancel", """{"reason":"customer_request"}"""));
    var sweeping = await seeder.PartnerAsync($"sweep-{label}", 25_000, offset: 20_000_000_000 + phase * 1_000_000_000L);
    var swept = Stopwatch.StartNew();
    await SendAsync(sweeping, "POST /v1/test/scheduled-changes/run", $$"""{"as_of":"{{DateTimeOffset.UtcNow.AddDays(201):O}}"}""");
    results["scheduler sweep (orders/s)"] = (5_000 / swept.Elapsed.TotalSeconds, swept.Elapsed.TotalMilliseconds / 5_000);
    Console.Error.WriteLine($"Writes {label}: {string.Join(", ", results.Select(r => $"{r.Key} {r.Value.PerSecond:0}/s"))}");
    return results;

    async Task<(double, double)> TimedAsync(int count, Func<int, (string Path, string Body)> request)
    {
        var latencies = new List<double>();
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var (path, body) = request(i);
                var started = Stopwatch.GetTimestamp();
                await SendAsync(large, path, body);
                lock (latencies)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
        }));
        latencies.Sort();
        return (count / clock.Elapsed.TotalSeconds, latencies[latencies.Count / 2]);
    }
}

// Each request a partner makes, as a path for a partner's seeded orders (a random pick each time it is sent).
static IEnumerable<(string Name, Func<Seeded, Random, Task<string>> Path)> Requests()
{
    yield return ("`GET /v1/orders/{id}`", (p, r) => Task.FromResult($"/v1/orders/{p.AnyOrder(r)}"));
    yield return ("`GET /v1/orders/{id}/events`", (p, r) => Task.FromResult($"/v1/orders/{p.AnyOrder(r)}/events"));
    yield return ("`GET /v1/orders?limit=20`", (_, _) => Task.FromResult("/v1/orders?limit=20"));
    yield return ("`?status=pending`", (_, _) => Task.FromResult("/v1/orders?status=pending&limit=20"));
    yield return ("`?status=cancelled`", (_, _) => Task.FromResult("/v1/orders?status=cancelled&limit=20"));
    yield return ("`?kind=recurring`", (_, _) => Task.FromResult("/v1/orders?kind=recurring&limit=20"));
    yield return ("`?status=paid&kind=recurring` (never matches)", (_, _) => Task.FromResult("/v1/orders?status=paid&kind=recurring&limit=20"));
    yield return ("`?status=active&kind=recurring`", (_, _) => Task.FromResult("/v1/orders?status=active&kind=recurring&limit=20"));
    yield return ("`?customer_ref=` (~5 matches)", (p, r) => Task.FromResult($"/v1/orders?customer_ref={p.AnyCustomer(r)}&limit=20"));
    yield return ("`?customer_ref=nobody`", (_, _) => Task.FromResult("/v1/orders?customer_ref=nobody&limit=20"));
    yield return ("`?customer_ref=&status=pending`", (p, r) => Task.FromResult($"/v1/orders?customer_ref={p.AnyCustomer(r)}&status=pending&limit=20"));
    yield return ("`?reference=`", (p, r) => Task.FromResult($"/v1/orders?reference={p.AnyReference(r)}"));
    yield return ("`?created_from=&created_to=` (a day)", (p, r) => Task.FromResult($"/v1/orders?{p.AnyDay(r)}&limit=20"));
    yield return ("`?status=pending&created_from=&created_to=`", (p, r) => Task.FromResult($"/v1/orders?status=pending&{p.AnyDay(r)}&limit=20"));
    yield return ("`?limit=20&cursor=` (50 pages deep)", (p, _) => Task.FromResult($"/v1/orders?limit=20&cursor={p.DeepCursor}"));
    yield return ("`POST /v1/test/scheduled-changes/run` (nothing due, 20 % not yet due)", (_, _) => Task.FromResult("POST /v1/test/scheduled-changes/run"));
}

async Task<(double P50, double P99)> MeasureAsync(Seeded partner, Func<Seeded, Random, Task<string>> pathOf)
{
    const int Concurrency = 8;
    var latencies = new List<double>();
    var random = new Random(42);
    for (var i = 0; i < 20; i++)
    {
        await SendAsync(partner, await pathOf(partner, random));
    }

    await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async worker =>
    {
        var mine = new Random(worker);
        for (var i = 0; i < requests / Concurrency; i++)
        {
            var path = await pathOf(partner, mine);
            var started = Stopwatch.GetTimestamp();
            await SendAsync(partner, path);
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            lock (latencies)
            {
                latencies.Add(ms);
            }
        }
    }));
    latencies.Sort();
    return (latencies[latencies.Count / 2], latencies[(int)(latencies.Count * 0.99)]);
}

async Task SendAsync(Seeded partner, string path, string? body = null)
{
    using var request = path.StartsWith("POST ", StringComparison.Ordinal)
        ? new HttpRequestMessage(HttpMethod.Post, path[5..])
        {
            Content = new StringContent(body ?? $$"""{"as_of":"{{DateTimeOffset.UtcNow:O}}"}""", Encoding.UTF8, "application/json"),
        }
        : new HttpRequestMessage(HttpMethod.Get, path);
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", partner.Key);
    using var response = await http.SendAsync(request);
    if (!response.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"{path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    await response.Content.CopyToAsync(Stream.Null);
}

string Arg(string name, string? fallback = null)
{
    var index = Array.IndexOf(args, "--" + name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback ?? throw new ArgumentException($"--{name} is required");
}

/// <summary>A seeded partner: its key, and what a request may name (orders, customers, references, days, a deep cursor).</summary>
internal sealed record Seeded(string Key, long FirstOrder, int Count, DateTimeOffset Start, string DeepCursor)
{
    public long AnyOrder(Random random) => FirstOrder + random.Next(Count);

    public string AnyCustomer(Random random) => $"cus_{FirstOrder}_{random.Next(Count) / 5}";

    public string AnyReference(Random random) => $"ref-{FirstOrder + random.Next(Count)}";

    public string AnyDay(Random random)
    {
        var from = Start.AddDays(random.Next(300));
        return $"created_from={Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))}&created_to={Uri.EscapeDataString(from.AddDays(1).ToString("O", CultureInfo.InvariantCulture))}";
    }
}

internal sealed class Seeder(HttpClient http, NpgsqlDataSource db, string adminKey)
{
    /// <summary>Orders span a year before now: creation times spread evenly over it.</summary>
    private static readonly TimeSpan Span = TimeSpan.FromDays(365);

    public async Task<Seeded> PartnerAsync(string name, int count, long offset)
    {
        var key = await KeyAsync(name);
        var templates = await TemplatesAsync(key);
        var start = DateTimeOffset.UtcNow - Span;
        var step = Span.TotalSeconds / count;
        Console.Error.WriteLine($"Seeding {count:N0} orders for {name}...");
        // Shares: 35 % pending, 25 % paid, 10 % cancelled, 8 % active, 2 % cancelled recurring, 20 % pending with a
        // cancellation scheduled for a later day (the not-yet-due work the scheduler's claim must step over).
        var pick = $"""
            CASE WHEN k % 100 < 35 THEN {templates[0]} WHEN k % 100 < 60 THEN {templates[1]} WHEN k % 100 < 70 THEN {templates[2]}
                 WHEN k % 100 < 78 THEN {templates[3]} WHEN k % 100 < 80 THEN {templates[4]} ELSE {templates[5]} END
            """;
        await ExecAsync($"""
            INSERT INTO orders (id, partner_id, kind, status, reference, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, next_change_due_at, cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, scheduled_cancellation, scheduled_reactivation)
            SELECT {offset}::bigint + k, t.partner_id, t.kind, t.status, 'ref-' || ({offset}::bigint + k), t.channel, t.currency, t.time_zone, t.billing_period,
                t.shipping_cost, t.shipping_waived, t.amount_paid,
                json_build_object('source', 'scale', 'campaign', 'c' || (k % 100), 'store', 's' || (k % 7)),
                t.next_change_due_at, t.cancelled_at, t.reactivated_at,
                '{start:O}'::timestamptz + k * interval '{step.ToString("0.######", CultureInfo.InvariantCulture)} seconds',
                '{start:O}'::timestamptz + k * interval '{step.ToString("0.######", CultureInfo.InvariantCulture)} seconds',
                t.version, t.customer_email, t.customer_first_name, t.customer_last_name, t.customer_phone,
                'cus_{offset}_' || (k / 5), t.cancellations, t.payment, t.scheduled_cancellation, t.scheduled_reactivation
            FROM generate_series(0, {count - 1}) AS k JOIN orders t ON t.id = {pick}
            """);
        await ExecAsync($"""
            INSERT INTO order_lines (id, order_id, sku, name, quantity, cancelled_quantity, unit_price, discount, tax_rate, metadata)
            SELECT ({offset}::bigint + k) * 4 + l.n, {offset}::bigint + k, l.sku || '-' || (k % 500), l.name, l.quantity, l.cancelled_quantity, l.unit_price, l.discount, l.tax_rate, l.metadata
            FROM generate_series(0, {count - 1}) AS k
            JOIN LATERAL (SELECT *, row_number() OVER (ORDER BY id) AS n FROM order_lines WHERE order_id = {pick}) AS l ON true
            """);
        await ExecAsync($"""
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            SELECT gen_random_uuid(), e.partner_id, {offset}::bigint + k, e.type,
                '{start:O}'::timestamptz + k * interval '{step.ToString("0.######", CultureInfo.InvariantCulture)} seconds', e.actor, e.data
            FROM generate_series(0, {count - 1}) AS k
            JOIN LATERAL (SELECT * FROM order_events WHERE order_id = {pick} ORDER BY sequence) AS e ON true
            """);
        var deep = await DeepCursorAsync(key);
        return new Seeded(key, offset, count, start, deep);
    }

    public async Task ExecAsync(string sql)
    {
        await using var command = db.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Table and index sizes, and bytes per row, for docs/operations.md, "Sizes and growth".</summary>
    public async Task SizesAsync()
    {
        await using var command = db.CreateCommand("""
            SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.reltuples > 0 ORDER BY 3 DESC
            """);
        await using var reader = await command.ExecuteReaderAsync();
        Console.WriteLine("| table | rows | total | heap + TOAST per row | indexes per row |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        while (await reader.ReadAsync())
        {
            var rows = Math.Max(1, reader.GetInt64(1));
            var total = reader.GetInt64(2);
            var indexes = reader.GetInt64(4);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {reader.GetString(0)} | {rows:N0} | {total / 1048576.0:N0} MB | {(total - indexes) / (double)rows:N0} B | {indexes / (double)rows:N0} B |"));
        }
    }

    private async Task<string> KeyAsync(string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/admin/partners")
        {
            Content = new StringContent($$"""{"name":"scale-{{name}}-{{Guid.NewGuid():N}}"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("api_key").GetProperty("key").GetString()!;
    }

    /// <summary>Six orders made through the API, one per state the seed copies: pending, paid, cancelled, active, cancelled recurring, scheduled.</summary>
    private async Task<long[]> TemplatesAsync(string key)
    {
        async Task<JsonElement> Send(HttpMethod method, string path, string? body)
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {text}");
            }

            return JsonDocument.Parse(text).RootElement.Clone();
        }

        async Task<long> Create(string kind) => (await Send(HttpMethod.Post, "/v1/orders", $$$"""
            {"kind":"{{{kind}}}","currency":"EUR","time_zone":"Europe/Paris"{{{(kind == "recurring" ? ",\"billing_period\":\"monthly\"" : "")}}},
             "customer":{"ref":"cus_template","email":"scale@example.com","first_name":"Scale","last_name":"Test"},
             "lines":[{"sku":"A","name":"Item A","quantity":2,"unit_price":19.90,"discount":1.50,"tax_rate":0.2},
                      {"sku":"B","name":"Item B","quantity":1,"unit_price":5.00},
                      {"sku":"C","name":"Item C","quantity":3,"unit_price":12.35,"tax_rate":0.055}],
             "shipping_cost":4.90,"metadata":{"source":"scale"}}
            """)).GetProperty("id").GetInt64();

        var pending = await Create("one_time");
        var paid = await Create("one_time");
        var due = (await Send(HttpMethod.Get, $"/v1/orders/{paid}", null)).GetProperty("amount_due").GetDecimal();
        await Send(HttpMethod.Post, $"/v1/orders/{paid}/payments", $$"""{"method":"card","amount":{{due.ToString(CultureInfo.InvariantCulture)}}}""");
        var cancelled = await Create("one_time");
        await Send(HttpMethod.Post, $"/v1/orders/{cancelled}/cancel", """{"reason":"customer_request"}""");
        var active = await Create("recurring");
        var cancelledRecurring = await Create("recurring");
        await Send(HttpMethod.Post, $"/v1/orders/{cancelledRecurring}/cancel", """{"reason":"payment_declined"}""");
        var scheduled = await Create("one_time");
        var later = DateTime.UtcNow.AddDays(200).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        await Send(HttpMethod.Post, $"/v1/orders/{scheduled}/cancel", $$"""{"reason":"out_of_stock","effective_date":"{{later}}"}""");
        return [pending, paid, cancelled, active, cancelledRecurring, scheduled];
    }

    /// <summary>The cursor of the 50th page of the partner's unfiltered list, followed from the first page.</summary>
    private async Task<string> DeepCursorAsync(string key)
    {
        string? cursor = null;
        for (var page = 0; page < 50; page++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/orders?limit=20" + (cursor is null ? "" : "&cursor=" + cursor));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            cursor = Uri.EscapeDataString(body.RootElement.GetProperty("next_cursor").GetString()!);
        }

        return cursor!;
    }
}
