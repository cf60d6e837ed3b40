using System.Diagnostics;
using System.Net;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.PacedRequests;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Issue 35's attack on the rate limit, as a partner makes it: through HAProxy (scripts/cluster/haproxy.cfg), which
/// spreads one partner's requests over three instances sharing a Redis, as <c>./scripts/cluster.sh</c> runs them.
/// <see cref="SharedRateLimitTests"/> shows the same bucket and its outages straight at the instances.
/// </summary>
public sealed class LoadBalancedRateLimitTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    /// <summary>
    /// Sending three times its limit, a partner gets one bucket's worth through (a burst, then the limit a second): per
    /// instance, each instance would take its third of the flood and let it all through, so the flood must reach every
    /// instance (had HAProxy kept to one, per-instance buckets would look like one). The floor, 0.6 of the limit's worth,
    /// shows the limit is not stricter than said, nor the flood refused for another reason; a partner beside it at a
    /// quarter of the limit gets only 200s, so the bucket is the partner's, not everyone's. Then Redis is stopped under
    /// the same flood: no answer is a 5xx, and once each instance knows, the flood is served without the limit.
    /// </summary>
    [Fact]
    public async Task A_partner_sending_three_times_its_limit_through_HAProxy_gets_its_limit_another_is_unaffected_and_a_Redis_stopped_mid_way_makes_no_5xx()
    {
        const int limit = 20;
        var seconds = TimeSpan.FromSeconds(10);
        using var redis = await RedisServer.StartAsync();
        var flooder = await database.NewPartnerAsync();
        var modest = await database.NewPartnerAsync();
        var settings = SharedLimitInstances.Unhurried(redis, limit);
        settings["ForwardedHeaders__KnownProxies"] = "127.0.0.1";
        using var instances = await SharedLimitInstances.StartAsync(database.ConnectionString, settings, flooder, modest);
        using var balancer = await LoadBalancer.StartAsync([.. instances.Services.Select(s => s.BaseUrl)]);
        using var flooderClient = balancer.Client(flooder.Key);
        using var modestClient = balancer.Client(modest.Key);

        var answeredBefore = await ListsAnsweredAsync(instances);
        var clock = Stopwatch.StartNew();
        var flood = SendAsync([flooderClient], perSecond: 3 * limit, seconds);
        var steady = SendAsync([modestClient], perSecond: limit / 4, seconds);
        var flooded = await flood;
        var steadied = await steady;

        instances.AssertLimited(flooded, limit, clock.Elapsed);
        Assert.True(flooded.Count(s => s.Status == HttpStatusCode.OK) >= 0.6 * limit * seconds.TotalSeconds, $"Far fewer than the limit's worth were let through: {Summary(flooded)}");
        AllOk(steadied);
        await instances.NoneUnlimitedAsync();
        await SpreadAsync(instances, answeredBefore, flooded.Count + steadied.Count);

        // The same flood, and Redis stopped three seconds in.
        using var flooding = new CancellationTokenSource();
        var lostFlood = SendAsync([flooderClient], perSecond: 3 * limit, TimeSpan.FromMinutes(2), flooding.Token);
        var lostSteady = SendAsync([modestClient], perSecond: limit / 4, TimeSpan.FromMinutes(2), flooding.Token);
        await Task.Delay(TimeSpan.FromSeconds(3));
        redis.Stop();
        await Eventually.TrueAsync(
            () => instances.Services.All(s => SharedLimitInstances.Count(s, SharedLimitInstances.GoneLine) > 0),
            () => $"Not every instance saw Redis go:\n{instances.Output()}");
        var allKnow = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await flooding.CancelAsync();
        var lost = await lostFlood;
        var lostBeside = await lostSteady;

        instances.OkOrLimited([.. lost, .. lostBeside]);
        AllOk(lostBeside);
        var afterwards = lost.Where(s => s.At > allKnow).ToList();
        Assert.True(afterwards.Count >= limit, $"Only {afterwards.Count} requests were sent once every instance knew Redis was gone.");
        AllOk(afterwards);
    }

    /// <summary>The list requests each instance has answered so far, as its metrics count them.</summary>
    private static async Task<double[]> ListsAnsweredAsync(SharedLimitInstances instances) =>
        [.. (await Task.WhenAll(instances.Services.Select(s => Scrape.ReadAsync(s.BaseUrl)))).Select(ListsAnswered)];

    /// <summary>The list's route as ASP.NET Core's metrics name it: the group's prefix and the endpoint's empty pattern.</summary>
    private static double ListsAnswered(Scrape scrape) => scrape.Sum("http_server_request_duration_seconds_count", ("http_route", "/v1/orders/"));

    /// <summary>The instances each answered at least a sixth of the <paramref name="sent"/> requests since <paramref name="before"/> (a third each when spread evenly).</summary>
    private static async Task SpreadAsync(SharedLimitInstances instances, double[] before, int sent)
    {
        var each = new double[before.Length];
        await Eventually.TrueAsync(
            async () => (each = [.. (await ListsAnsweredAsync(instances)).Zip(before, (now, was) => now - was)]).Sum() >= sent,
            () => $"The instances counted {each.Sum()} of the {sent} requests: {string.Join(", ", each)}");
        Assert.True(each.All(n => n >= sent / 6), $"HAProxy sent the instances {string.Join(", ", each)} of {sent} requests.");
    }
}
