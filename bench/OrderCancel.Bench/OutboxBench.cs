using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

/// <summary>
/// The outbox's throughput to fast endpoints, in one run: alone; beside another partner's backlog of 50,000 deliveries
/// to five endpoints whose receiver answers after 2 s (recovered through the API, following next_since); alone again
/// once that partner's endpoints are gone. Each phase writes <see cref="Events"/> events of the fast partner in one
/// statement (the trigger queues one delivery per endpoint) and times them until every delivery has arrived.
/// </summary>
internal static class OutboxBench
{
    public const int FastEndpoints = 4;
    public const int Events = 5_000;
    public const int SlowEndpoints = 5;
    public const int SlowBacklogEvents = 10_000;
    public static readonly TimeSpan SlowAnswer = TimeSpan.FromSeconds(2);

    public static async Task<OutboxResult> RunAsync(HttpClient http, Seeder seeder, Options options)
    {
        using var fast = Receiver.Start(TimeSpan.Zero);
        using var slow = Receiver.Start(SlowAnswer);
        var (fastPartner, fastKey) = await Setup.CreatePartnerAsync(http, options);
        var (slowPartner, slowKey) = await Setup.CreatePartnerAsync(http, options);
        for (var i = 0; i < FastEndpoints; i++)
        {
            await RegisterAsync(http, options, fastKey, fast.Url);
        }

        // A warm-up burst (not reported): the first sends pay for the JIT and the connection pool.
        await BurstAsync(seeder, fast, fastPartner, 1_000);
        var alone = await BurstAsync(seeder, fast, fastPartner, Events);

        var since = DateTimeOffset.UtcNow.AddHours(-2);
        await seeder.ExecAsync($"""
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            SELECT gen_random_uuid(), '{slowPartner}', NULL, 'partner.settings_changed', now() - interval '1 hour' + g * interval '1 millisecond', 'bench', '{"{}"}'
            FROM generate_series(1, {SlowBacklogEvents}) AS g
            """);
        var slowEndpoints = new List<Guid>();
        var backlog = 0;
        for (var i = 0; i < SlowEndpoints; i++)
        {
            var endpoint = await RegisterAsync(http, options, slowKey, slow.Url);
            slowEndpoints.Add(endpoint);
            backlog += (await RecoverAllAsync(http, options, endpoint, since, DateTimeOffset.UtcNow, slowKey)).Queued;
        }

        // Let the slow endpoints fill their slots, then the same burst.
        await Task.Delay(SlowAnswer * 2);
        var slowBefore = slow.Count;
        var beside = await BurstAsync(seeder, fast, fastPartner, Events);
        var slowRate = (slow.Count - slowBefore) / beside.Seconds;

        foreach (var endpoint in slowEndpoints)
        {
            using var request = Authorized(HttpMethod.Delete, $"{options.Service}/v1/webhooks/{endpoint}", slowKey);
            (await http.SendAsync(request)).EnsureSuccessStatusCode();
        }

        await Task.Delay(SlowAnswer * 2); // the sends in flight end
        var after = await BurstAsync(seeder, fast, fastPartner, Events);
        return new OutboxResult(alone, beside, after, backlog, slowRate);
    }

    /// <summary>Recovers a window whole, one capped call after another (SPEC §12's next_since): how many, in how many calls.</summary>
    public static async Task<(int Queued, int Calls)> RecoverAllAsync(
        HttpClient http, Options options, Guid endpoint, DateTimeOffset since, DateTimeOffset until, string? key = null)
    {
        var queued = 0;
        var calls = 0;
        DateTimeOffset? from = since;
        while (from is { } start)
        {
            using var request = Authorized(HttpMethod.Post, $"{options.Service}/v1/webhooks/{endpoint}/recover", key);
            request.Content = new StringContent(
                $$"""{"since":"{{Instant(start)}}","until":"{{Instant(until)}}"}""", Encoding.UTF8, "application/json");
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            queued += body.GetProperty("queued").GetInt32();
            calls++;
            from = body.GetProperty("next_since").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next_since").GetDateTimeOffset();
        }

        return (queued, calls);
    }

    private static async Task<BurstRun> BurstAsync(Seeder seeder, Receiver receiver, Guid partner, int events)
    {
        var expected = receiver.Count + (long)events * FastEndpoints;
        var stopwatch = Stopwatch.StartNew();
        await seeder.ExecAsync($"""
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            SELECT gen_random_uuid(), '{partner}', NULL, 'partner.settings_changed', now(), 'bench', '{"{}"}'
            FROM generate_series(1, {events}) AS g
            """);
        while (receiver.Count < expected)
        {
            if (stopwatch.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException($"Only {receiver.Count - (expected - (long)events * FastEndpoints)} of {events * FastEndpoints} deliveries arrived in 10 minutes.");
            }

            await Task.Delay(10);
        }

        var seconds = stopwatch.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"{events * FastEndpoints} deliveries in {seconds:0.0} s.");
        return new BurstRun(events * FastEndpoints, seconds);
    }

    private static async Task<Guid> RegisterAsync(HttpClient http, Options options, string key, string url)
    {
        using var request = Authorized(HttpMethod.Post, $"{options.Service}/v1/webhooks", key);
        request.Content = new StringContent($$"""{"url":"{{url}}","events":["*"]}""", Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
    }

    private static HttpRequestMessage Authorized(HttpMethod method, string url, string? key)
    {
        var request = new HttpRequestMessage(method, url);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return request;
    }

    private static string Instant(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A loopback receiver that counts deliveries and answers 200 after <c>delay</c>.</summary>
    private sealed class Receiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly TimeSpan _delay;
        private long _count;

        private Receiver(TimeSpan delay, int port)
        {
            _delay = delay;
            Url = $"http://127.0.0.1:{port}/hooks/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _ = Task.Run(AcceptAsync);
        }

        public string Url { get; }

        public long Count => Interlocked.Read(ref _count);

        public static Receiver Start(TimeSpan delay)
        {
            using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            return new Receiver(delay, port);
        }

        private async Task AcceptAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception) when (!_listener.IsListening)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    await context.Request.InputStream.CopyToAsync(Stream.Null);
                    if (_delay > TimeSpan.Zero)
                    {
                        await Task.Delay(_delay);
                    }

                    Interlocked.Increment(ref _count);
                    context.Response.StatusCode = 200;
                    context.Response.Close();
                });
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
        }
    }
}

internal sealed record BurstRun(int Deliveries, double Seconds)
{
    public double PerSecond => Deliveries / Seconds;
}

internal sealed record OutboxResult(BurstRun Alone, BurstRun Beside, BurstRun After, int SlowBacklog, double SlowPerSecond);
