using System.Net;
using System.Text.RegularExpressions;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// Three service processes whose rate limits share a <see cref="RedisServer"/> (<c>ConnectionStrings__Redis</c>), as
/// <c>./scripts/cluster.sh</c> runs them, and what the tests of that one bucket across instances read from them: the
/// rate-limit metrics, the outage's log lines, and whether a flood got one limit's worth through.
/// </summary>
public sealed class SharedLimitInstances : IDisposable
{
    /// <summary>What an instance logs, once, when it meets a Redis outage, and when the outage ends.</summary>
    public const string GoneLine = "Redis cannot be reached (";
    public const string BackLine = "Redis is reachable again after ";

    private SharedLimitInstances(ServiceProcess[] services) => Services = services;

    public ServiceProcess[] Services { get; }

    /// <summary>The settings of an instance sharing <paramref name="redis"/>, with <paramref name="options"/> added to its connection string.</summary>
    public static Dictionary<string, string> Settings(RedisServer redis, int permitsPerSecond, string? options = null) => new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["ConnectionStrings__Redis"] = options is null ? redis.ConnectionString : $"{redis.ConnectionString},{options}",
        ["RateLimiting__PermitsPerSecond"] = $"{permitsPerSecond}",
    };

    /// <summary>
    /// For the tests of one bucket across instances: Redis gets 30 s to answer (the connection string may say so), so
    /// that no answer this busy machine makes slow is served without the limit. A Redis that is stopped still fails at once.
    /// </summary>
    public static Dictionary<string, string> Unhurried(RedisServer redis, int permitsPerSecond) =>
        Settings(redis, permitsPerSecond, "asyncTimeout=30000");

    /// <summary>
    /// Starts three instances together. Each has then seen every one of <paramref name="partners"/>' keys once, so that
    /// no first lookup of a key shares the unknown-key bucket with the load, and the partners' buckets have filled again.
    /// </summary>
    public static async Task<SharedLimitInstances> StartAsync(string connectionString, Dictionary<string, string> settings, params TestPartner[] partners)
    {
        var instances = new SharedLimitInstances([.. Enumerable.Range(0, 3).Select(_ => ServiceProcess.Launch(connectionString, settings))]);
        try
        {
            await Task.WhenAll(instances.Services.Select(s => s.WaitUntilReadyAsync()));
            foreach (var service in instances.Services)
            {
                foreach (var partner in partners)
                {
                    using var client = service.Client(partner.Key);
                    (await client.GetAsync("/v1/orders")).EnsureSuccessStatusCode();
                }
            }
        }
        catch
        {
            instances.Dispose();
            throw;
        }

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        return instances;
    }

    /// <summary>
    /// What one bucket across the instances lets through in <paramref name="elapsed"/> (from before the first request
    /// was sent to after the last answer): a full bucket, then the limit a second; and at least two seconds' worth.
    /// Each answer is a 200 or a 429.
    /// </summary>
    public void AssertLimited(List<Sent> flooded, int limit, TimeSpan elapsed)
    {
        var accepted = flooded.Count(s => s.Status == HttpStatusCode.OK);
        var allowed = limit + (int)Math.Floor(limit * elapsed.TotalSeconds);
        OkOrLimited(flooded);
        Assert.True(
            accepted >= 2 * limit && accepted <= allowed,
            $"{PacedRequests.Summary(flooded)} in {elapsed.TotalSeconds:0.0} s; at most {allowed} (limit {limit}/s across instances)\n{Output()}");
    }

    /// <summary>Every answer is a 200 or a 429; otherwise the message holds the others and what the instances logged (their 429s aside).</summary>
    public void OkOrLimited(List<Sent> sent)
    {
        var others = sent.Where(s => s.Status is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests)).ToList();
        Assert.True(
            others.Count == 0,
            $"{others.Count} of {sent.Count} answers were neither 200 nor 429:\n{string.Join("\n", others.Select(s => $"{(int)s.Status} {s.Other}"))}\n{Output()}");
    }

    /// <summary>No instance served a request without the limit (every one it let through, Redis let through), and each says Redis is up.</summary>
    public async Task NoneUnlimitedAsync()
    {
        foreach (var service in Services)
        {
            var scrape = await Scrape.ReadAsync(service.BaseUrl);
            Assert.True(scrape.Sum("ordercancel_rate_limit_unlimited_total") == 0, $"Served unlimited:\n{RateLimitLines(scrape)}\n{service.Output()}");
            Assert.Equal(1, scrape.Sum("ordercancel_rate_limit_redis_up"));
        }
    }

    public static string RateLimitLines(Scrape scrape) =>
        string.Join("\n", scrape.Text.Split('\n').Where(line => line.StartsWith("ordercancel_rate_limit", StringComparison.Ordinal)));

    /// <summary>How many times <paramref name="service"/> has logged <paramref name="line"/> (<see cref="GoneLine"/>, <see cref="BackLine"/>).</summary>
    public static int Count(ServiceProcess service, string line) =>
        Regex.Count(service.Output(), Regex.Escape(line));

    /// <summary>What the instances have logged, their 429s aside.</summary>
    public string Output() =>
        string.Join("\n", Services.Select(s => string.Join("\n", s.Output().Split('\n').Where(line => !line.Contains("responded 429", StringComparison.Ordinal)))));

    public void Dispose()
    {
        foreach (var service in Services)
        {
            service.Dispose();
        }
    }
}
