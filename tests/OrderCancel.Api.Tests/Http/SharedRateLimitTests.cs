using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using OrderCancel.Api.Http;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.PacedRequests;
using static OrderCancel.Api.Tests.Infrastructure.SharedLimitInstances;

namespace OrderCancel.Api.Tests;

/// <summary>
/// With <c>ConnectionStrings:Redis</c> set, a partner's bucket is one across every instance (SPEC §13), and a Redis that
/// cannot be reached costs the limit, never an answer: requests are served without it, the outage is logged once when it
/// starts and once when it ends, and counted. The services run as processes beside a real redis-server of the test's own.
/// Without Redis each instance keeps its own buckets, as <see cref="RateLimitTests"/> shows. The flood of these tests is
/// sent round the instances; <see cref="LoadBalancedRateLimitTests"/> sends it through HAProxy.
/// </summary>
public sealed partial class SharedRateLimitTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task Three_instances_sharing_Redis_let_a_partner_through_at_its_limit_not_three_times_it_and_leave_another_partner_alone()
    {
        const int limit = 10;
        var seconds = TimeSpan.FromSeconds(6);
        using var redis = await RedisServer.StartAsync();
        var flooder = await database.NewPartnerAsync();
        var modest = await database.NewPartnerAsync();
        using var instances = await SharedLimitInstances.StartAsync(database.ConnectionString, Unhurried(redis, limit), flooder, modest);
        var flooderClients = instances.Services.Select(s => s.Client(flooder.Key)).ToArray();
        var modestClients = instances.Services.Select(s => s.Client(modest.Key)).ToArray();

        // Round the instances: per instance alone, each would have let nearly all through.
        var clock = Stopwatch.StartNew();
        var flood = SendAsync(flooderClients, perSecond: 3 * limit, seconds);
        var steady = SendAsync(modestClients, perSecond: limit / 4, seconds);
        var flooded = await flood;
        var steadied = await steady;

        instances.AssertLimited(flooded, limit, clock.Elapsed);
        AllOk(steadied);
        await instances.NoneUnlimitedAsync();
    }

    [Fact]
    public async Task A_Redis_stopped_mid_way_costs_the_limit_not_an_answer_and_is_logged_once_when_it_goes_and_once_when_it_is_back()
    {
        const int limit = 5;
        using var redis = await RedisServer.StartAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, SharedLimitInstances.Settings(redis, limit, Busy));
        var partner = await database.NewPartnerAsync();
        using var client = service.Client(partner.Key);
        await LimitedAsync(service, client, limit);
        await MetricsSayAsync(service, up: 1, unlimitedAtLeast: 0);

        // A steady trickle throughout: across the loss, the outage and the return.
        using var trickling = new CancellationTokenSource();
        var trickle = TrickleAsync(client, trickling.Token);

        redis.Stop();
        await Eventually.TrueAsync(() => Count(service, GoneLine) > 0, () => $"No warning that Redis is gone:\n{service.Output()}");
        var during = await BurstAsync(client, 6 * limit);
        await MetricsSayAsync(service, up: 0, unlimitedAtLeast: during.Count);

        await redis.StartAgainAsync();
        await Eventually.TrueAsync(() => Count(service, BackLine) > 0, () => $"No word that Redis is back:\n{service.Output()}");
        await LimitedAsync(service, client, limit);
        await trickling.CancelAsync();
        var trickled = await trickle;

        Assert.All(during, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.NotEmpty(trickled);
        Assert.All(trickled, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"Answered {(int)r.Status}"));
        await MetricsSayAsync(service, up: 1, unlimitedAtLeast: during.Count);
        OnceEach(service);
        Assert.Matches(WarningLine(), service.Output());
    }

    /// <summary>
    /// A Redis that dies under load has requests in flight on it, and StackExchange.Redis may cancel those (a
    /// <see cref="TaskCanceledException"/>, not a <c>RedisConnectionException</c>): each was a 500. Whether a command is
    /// caught writing when the connection drops is a race, so Redis dies under a flood of 40 concurrent clients, five times.
    /// </summary>
    [Fact]
    public async Task Requests_in_flight_when_Redis_dies_are_served_without_the_limit_not_answered_500()
    {
        const int limit = 5;
        const int rounds = 5;
        using var redis = await RedisServer.StartAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Unhurried(redis, limit));
        var partner = await database.NewPartnerAsync();
        using var client = service.Client(partner.Key);
        var answers = new ConcurrentBag<(HttpStatusCode Status, string? Other)>();
        for (var round = 1; round <= rounds; round++)
        {
            if (round > 1)
            {
                await redis.StartAgainAsync();
                await Eventually.TrueAsync(() => Count(service, BackLine) == round - 1, () => $"No word that Redis is back:\n{service.Output()}");
            }

            await LimitedAsync(service, client, limit);
            using var flooding = new CancellationTokenSource();
            var sent = 0;
            var flood = Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
            {
                while (!flooding.IsCancellationRequested)
                {
                    answers.Add(await AnswerAsync(client));
                    Interlocked.Increment(ref sent);
                }
            }));
            await Eventually.TrueAsync(() => Volatile.Read(ref sent) >= 40, () => "The flood never got going.");
            redis.Stop();
            await Eventually.TrueAsync(() => Count(service, GoneLine) == round, () => $"No warning that Redis is gone:\n{service.Output()}");
            await flooding.CancelAsync();
            await flood;
        }

        var others = answers.Where(a => a.Status is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests)).ToList();
        Assert.True(others.Count == 0, $"{others.Count} of {answers.Count} answers were neither 200 nor 429: {string.Join(", ", others.Take(5).Select(a => $"{(int)a.Status} {a.Other}"))}\n{service.Output()}");
    }

    [Fact]
    public async Task An_instance_started_while_Redis_is_down_serves_unlimited_and_takes_up_the_limit_when_Redis_comes()
    {
        const int limit = 5;
        using var redis = await RedisServer.StartAsync();
        redis.Stop();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, SharedLimitInstances.Settings(redis, limit, Busy));
        var partner = await database.NewPartnerAsync();
        using var client = service.Client(partner.Key);

        var down = await BurstAsync(client, 6 * limit);
        await redis.StartAgainAsync();
        await Eventually.TrueAsync(() => Count(service, BackLine) > 0, () => $"No word that Redis is back:\n{service.Output()}");
        await LimitedAsync(service, client, limit);

        Assert.All(down, s => Assert.Equal(HttpStatusCode.OK, s));
        OnceEach(service);
        await MetricsSayAsync(service, up: 1, unlimitedAtLeast: down.Count);
    }

    [Fact]
    public async Task A_hung_Redis_holds_no_request_for_long_and_is_logged_once_when_it_hangs_and_once_when_it_answers_again()
    {
        const int limit = 5;
        using var redis = await RedisServer.StartAsync();

        // A second, not the default half: on this busy machine an answer can take longer than that, and what is shown
        // here is a Redis that does not answer at all.
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, SharedLimitInstances.Settings(redis, limit, "asyncTimeout=1000"));
        var partner = await database.NewPartnerAsync();
        using var client = service.Client(partner.Key);
        await LimitedAsync(service, client, limit);
        using var trickling = new CancellationTokenSource();
        var trickle = TrickleAsync(client, trickling.Token);

        await redis.PauseAsync();
        await Eventually.TrueAsync(() => Count(service, GoneLine) > 0, () => $"No warning that Redis hangs:\n{service.Output()}");
        var during = await BurstAsync(client, 6 * limit);
        await redis.ResumeAsync();
        await Eventually.TrueAsync(() => Count(service, BackLine) > 0, () => $"No word that Redis answers again:\n{service.Output()}");
        await LimitedAsync(service, client, limit);
        await trickling.CancelAsync();
        var trickled = await trickle;

        Assert.All(during, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.All(trickled, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"Answered {(int)r.Status}"));

        // A request waits for a hung Redis at most asyncTimeout (1 s here), and none does once the outage is known;
        // StackExchange.Redis's own default would hold each for 5 s. The bound is generous for a busy machine.
        var slowest = trickled.Max(r => r.Took);
        Assert.True(slowest < TimeSpan.FromSeconds(4), $"A request took {slowest.TotalSeconds:0.0} s");
        OnceEach(service);
        await MetricsSayAsync(service, up: 1, unlimitedAtLeast: during.Count);
    }

    [Fact]
    public void The_connection_string_may_change_the_timeouts_but_never_makes_a_request_wait_for_a_reconnect_or_the_start_wait_for_Redis()
    {
        var defaults = SharedBuckets.Options("127.0.0.1:6379");
        var given = SharedBuckets.Options("127.0.0.1:6379,asyncTimeout=30000,connectTimeout=200,abortConnect=true");

        Assert.Equal((500, 1000), (defaults.AsyncTimeout, defaults.ConnectTimeout));
        Assert.Equal((30000, 200), (given.AsyncTimeout, given.ConnectTimeout));

        // The wait for a busy connection's turn to write, which would otherwise give a command up before asyncTimeout.
        Assert.True(defaults.SyncTimeout >= 500 && given.SyncTimeout >= 30000, $"syncTimeout {defaults.SyncTimeout}, {given.SyncTimeout}");
        Assert.All([defaults, given], options =>
        {
            Assert.False(options.AbortOnConnectFail);
            Assert.Same(StackExchange.Redis.BacklogPolicy.FailFast, options.BacklogPolicy);
            Assert.Equal("127.0.0.1:6379", Assert.Single(options.EndPoints).ToString());
        });
    }

    /// <summary>Waits until a scrape says Redis is up (1) or not (0), and counts at least so many requests served unlimited (a scrape may be a moment old).</summary>
    private static async Task MetricsSayAsync(ServiceProcess service, int up, int unlimitedAtLeast)
    {
        var scrape = await Scrape.ReadAsync(service.BaseUrl);
        await Eventually.TrueAsync(
            async () => (scrape = await Scrape.ReadAsync(service.BaseUrl)).Sum("ordercancel_rate_limit_redis_up") == up
                && scrape.Sum("ordercancel_rate_limit_unlimited_total") >= unlimitedAtLeast,
            () => $"Expected redis_up {up} and at least {unlimitedAtLeast} served unlimited:\n{RateLimitLines(scrape)}");
    }

    /// <summary>Waits until a burst of six times the limit meets 429s: the shared bucket is in use.</summary>
    private static Task LimitedAsync(ServiceProcess service, HttpClient client, int limit) =>
        Eventually.TrueAsync(
            async () => (await BurstAsync(client, 6 * limit)).Contains(HttpStatusCode.TooManyRequests),
            () => $"Never limited:\n{service.Output()}");

    /// <summary>
    /// For the tests of a Redis that is gone, which fail at once without waiting for any timeout: 2 s for an answer, so
    /// that one this busy machine makes late (half a second happens) is not taken for a hung Redis.
    /// </summary>
    private const string Busy = "asyncTimeout=2000";

    private static async Task<List<HttpStatusCode>> BurstAsync(HttpClient client, int count) =>
        [.. await Task.WhenAll(Enumerable.Range(0, count).Select(_ => StatusAsync(client)))];

    /// <summary>A request every 50 ms until cancelled: each one's status and how long it took.</summary>
    private static async Task<List<(HttpStatusCode Status, TimeSpan Took)>> TrickleAsync(HttpClient client, CancellationToken stop)
    {
        var answers = new List<(HttpStatusCode, TimeSpan)>();
        while (!stop.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            var status = await StatusAsync(client);
            answers.Add((status, clock.Elapsed));
            try
            {
                await Task.Delay(50, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return answers;
    }

    /// <summary>One warning that Redis went and one that it is back: not one per request, nor a flap.</summary>
    private static void OnceEach(ServiceProcess service) =>
        Assert.True(Count(service, GoneLine) == 1 && Count(service, BackLine) == 1, $"Not one warning each way:\n{service.Output()}");

    /// <summary>The outage's lines are warnings, as the database's are.</summary>
    [GeneratedRegex(@"WRN\] Redis cannot be reached")]
    private static partial Regex WarningLine();
}
