using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Domain;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The keys an instance holds in memory (<see cref="KeyLookupLimiter"/>): each answered from memory for a second after
/// its lookup, and forgotten after a minute unused, so memory holds the keys of the last minute and no more. The
/// lookups are counted here rather than made: what is under test is what the instance keeps, not the key table, which
/// <see cref="ChangesSeenByEveryInstanceTests"/> and <see cref="PartnersAndKeysTests"/> read through the service.
/// </summary>
public sealed class KeyCacheTests
{
    private static readonly IConfiguration Configuration = new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["RateLimiting:UnknownKeyPermitsPerSecond"] = "1000000000" })
        .Build();

    [Fact]
    public async Task A_key_is_answered_from_memory_for_a_second_after_its_lookup_then_looked_up_again()
    {
        var clock = new FakeTimeProvider();
        using var keys = new KeyLookupLimiter(Configuration, clock);
        var hash = RandomNumberGenerator.GetBytes(32);
        var lookups = 0;
        var key = new ActiveKey(Guid.NewGuid(), Guid.NewGuid(), PartnerPolicy.Default);
        Task<ActiveKey?> LookUp()
        {
            lookups++;
            return Task.FromResult<ActiveKey?>(key);
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.Same(key, (await keys.LookUpAsync(hash, IPAddress.Loopback, LookUp, CancellationToken.None)).Key);
        }

        Assert.Equal(1, lookups);
        clock.Advance(TimeSpan.FromMilliseconds(999)); // A change is followed within one second.
        await keys.LookUpAsync(hash, IPAddress.Loopback, LookUp, CancellationToken.None);
        Assert.Equal(1, lookups);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await keys.LookUpAsync(hash, IPAddress.Loopback, LookUp, CancellationToken.None);
        Assert.Equal(2, lookups);

        keys.Forget(); // A change made on this instance: the next request looks the key up again.
        await keys.LookUpAsync(hash, IPAddress.Loopback, LookUp, CancellationToken.None);
        Assert.Equal(3, lookups);
    }

    [Fact]
    public async Task A_hundred_thousand_keys_used_once_are_forgotten_a_minute_later()
    {
        var clock = new FakeTimeProvider();
        using var keys = new KeyLookupLimiter(Configuration, clock);
        var found = new ActiveKey(Guid.NewGuid(), Guid.NewGuid(), PartnerPolicy.Default);
        for (var i = 0; i < KeyLookupLimiter.KnownKeysLimit; i++)
        {
            await keys.LookUpAsync(BitConverter.GetBytes(i), IPAddress.Loopback, () => Task.FromResult<ActiveKey?>(found), CancellationToken.None);
        }

        Assert.InRange(keys.KnownKeys, 1, KeyLookupLimiter.KnownKeysLimit);

        // One more key a minute later: past its limit the cache compacts, and its sweep drops what is a minute unused.
        clock.Advance(TimeSpan.FromSeconds(61));
        var recent = BitConverter.GetBytes(-1);
        await keys.LookUpAsync(recent, IPAddress.Loopback, () => Task.FromResult<ActiveKey?>(found), CancellationToken.None);
        await Eventually.TrueAsync(() => Task.FromResult(keys.KnownKeys <= 1), () => $"{keys.KnownKeys} keys are still held a minute after their last use.");
    }
}
