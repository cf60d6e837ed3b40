using System.Net;
using System.Net.Http.Headers;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Keys that are not active are looked up only as fast as their client address's bucket allows (10 a second by
/// default); past it the answer is 429 <c>rate_limited</c> before any lookup. Run as a process, since the bucket is
/// per client address and only Kestrel has one.
/// </summary>
public sealed class KeyLookupLimitTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int DefaultPermitsPerSecond = 10;

    [Fact]
    public async Task Two_thousand_invalid_keys_from_one_address_get_429_after_the_bucket_and_the_key_table_sees_at_most_the_bucket()
    {
        var lookupsBefore = await KeyTableScansAsync();
        var service = await ServiceProcess.StartAsync(database.ConnectionString, NoMigration());
        var started = DateTime.UtcNow;
        List<HttpResponseMessage> responses;
        using (service)
        {
            responses = await FloodAsync(service, 2_000, _ => null);
        }

        var seconds = (DateTime.UtcNow - started).TotalSeconds;

        Assert.Equal(2_000, responses.Count(r => r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests));
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.True(r.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "A 429 without Retry-After"));
        await refused[0].ShouldBeProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");

        // The killed service's database sessions end, and with them their statistics reach pg_stat_user_tables.
        var allowed = DefaultPermitsPerSecond * (1 + (int)Math.Ceiling(seconds));
        var looked = responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized);
        Assert.InRange(looked, DefaultPermitsPerSecond, allowed);
        long lookups = 0;
        await Eventually.TrueAsync(
            async () => (lookups = await KeyTableScansAsync() - lookupsBefore) >= looked,
            () => $"The key table saw {lookups} lookups; the service answered {looked} × 401");
        Assert.InRange(lookups, looked, allowed);
    }

    [Fact]
    public async Task A_partner_s_own_requests_from_the_flooding_address_are_not_slowed()
    {
        var partner = await database.NewPartnerAsync();
        // A bucket of one a second: at the default ten, a busy machine spread the hundred requests over ten seconds
        // and none was refused (the bucket refilled as fast as they came).
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, NoMigration(("RateLimiting__UnknownKeyPermitsPerSecond", "1")));
        using var client = service.Client(partner.Key);
        (await client.GetAsync("/v1/orders")).EnsureSuccessStatusCode();

        var flood = FloodAsync(service, 1_000, _ => null);
        var own = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.GetAsync("/v1/orders")));
        var flooded = await flood;

        Assert.Contains(flooded, r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.All(own, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact]
    public async Task A_burst_of_100_requests_with_a_key_a_fresh_instance_has_not_seen_is_served_whole()
    {
        var partner = await database.NewPartnerAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, NoMigration());
        using var client = service.Client(partner.Key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => client.GetAsync("/v1/orders")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact]
    public async Task Behind_a_known_proxy_each_forwarded_client_has_a_bucket_of_its_own()
    {
        using var service = await ServiceProcess.StartAsync(
            database.ConnectionString, NoMigration(("ForwardedHeaders__KnownProxies__0", "127.0.0.1")));

        var first = await FloodAsync(service, 100, _ => "203.0.113.7");
        var second = await FloodAsync(service, 5, _ => "203.0.113.8");

        Assert.Contains(first, r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.All(second, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
    }

    [Fact]
    public async Task Without_a_known_proxy_a_client_cannot_choose_its_address_with_X_Forwarded_For()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, NoMigration());

        var responses = await FloodAsync(service, 100, i => $"198.51.100.{i % 250}");

        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task A_key_that_is_revoked_is_limited_again_like_any_unknown_key()
    {
        var partner = await database.NewPartnerAsync();
        // A bucket of one a second: at the default ten, a busy machine spread the hundred requests over ten seconds
        // and none was refused (the bucket refilled as fast as they came).
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, NoMigration(("RateLimiting__UnknownKeyPermitsPerSecond", "1")));
        using var client = service.Client(partner.Key);
        (await client.GetAsync("/v1/orders")).EnsureSuccessStatusCode();
        await Sql.ExecuteAsync(database.ConnectionString, "UPDATE api_keys SET revoked_at = now() WHERE partner_id = @p", ("p", partner.Id));
        // Revoked in the database, as another instance would: this one answers the key from memory until the second
        // after its lookup is up (KeyCacheTests), and a quick burst would all be served from there.
        await Task.Delay(KeyLookupLimiter.Freshness + TimeSpan.FromMilliseconds(500));

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => client.GetAsync("/v1/orders")));

        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.Unauthorized);
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.TooManyRequests);
    }

    /// <summary>Requests with a fresh invalid key each, 32 at a time, each sent with the X-Forwarded-For that <paramref name="forwardedFor"/> gives (none for null).</summary>
    private static async Task<List<HttpResponseMessage>> FloodAsync(ServiceProcess service, int count, Func<int, string?> forwardedFor)
    {
        using var http = new HttpClient { BaseAddress = new Uri(service.BaseUrl) };
        var responses = new HttpResponseMessage[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, token) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/orders");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", $"ock_live_{Guid.NewGuid():N}");
            if (forwardedFor(i) is { } address)
            {
                request.Headers.Add("X-Forwarded-For", address);
            }

            responses[i] = await http.SendAsync(request, token);
            await responses[i].Content.LoadIntoBufferAsync(token);
        });
        return [.. responses];
    }

    /// <summary>Index and sequential scans of the key table so far: one per key lookup.</summary>
    private Task<long> KeyTableScansAsync() => Sql.ScalarAsync<long>(
        database.ConnectionString,
        "SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'api_keys'");

    private static Dictionary<string, string> NoMigration(params (string Name, string Value)[] settings)
    {
        var all = new Dictionary<string, string> { ["Database__MigrateOnStartup"] = "false" };
        foreach (var (name, value) in settings)
        {
            all[name] = value;
        }

        return all;
    }
}
