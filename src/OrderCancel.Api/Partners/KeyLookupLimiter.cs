using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Caching.Memory;

namespace OrderCancel.Api.Partners;

/// <summary>
/// Keeps key guessing off the key table: a key this instance has not seen valid is looked up only with a permit from
/// its client address's own token bucket (<c>RateLimiting:UnknownKeyPermitsPerSecond</c>, default 10, burst of the
/// same size). A key that was found active is remembered (by its hash) and skips the bucket from then on, so a
/// partner's traffic is not slowed by a flood of bad keys from its own address. IPv6 clients share a bucket per /64,
/// the smallest network one client is usually given.
/// </summary>
public sealed class KeyLookupLimiter : IDisposable
{
    /// <summary>Valid keys remembered at most: a partner has a few, so this is many thousands of partners.</summary>
    private const int KnownKeysLimit = 100_000;

    private readonly PartitionedRateLimiter<IPAddress> _buckets;
    private readonly MemoryCache _knownKeys = new(new MemoryCacheOptions { SizeLimit = KnownKeysLimit });

    public KeyLookupLimiter(IConfiguration configuration)
    {
        PermitsPerSecond = configuration.GetValue("RateLimiting:UnknownKeyPermitsPerSecond", 10);
        _buckets = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetTokenBucketLimiter(
            address,
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = PermitsPerSecond,
                TokensPerPeriod = PermitsPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    public int PermitsPerSecond { get; }

    /// <summary>
    /// Whether the key with this hash may be looked up now: yes for a key seen valid, otherwise when the client's
    /// bucket has a permit. When not, answers how long to wait.
    /// </summary>
    public bool TryLookUp(byte[] keyHash, IPAddress? client, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_knownKeys.TryGetValue(Convert.ToBase64String(keyHash), out _))
        {
            return true;
        }

        using var lease = _buckets.AttemptAcquire(BucketOf(client));
        if (lease.IsAcquired)
        {
            return true;
        }

        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        return false;
    }

    /// <summary>What the lookup found: an active key skips the bucket from now on, and a revoked one no longer does.</summary>
    public void Found(byte[] keyHash, bool active)
    {
        var name = Convert.ToBase64String(keyHash);
        if (active)
        {
            _knownKeys.Set(name, true, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = TimeSpan.FromHours(1) });
        }
        else
        {
            _knownKeys.Remove(name);
        }
    }

    /// <summary>The bucket a client address shares: its own for IPv4, its /64 for IPv6; one for all when it is unknown.</summary>
    public static IPAddress BucketOf(IPAddress? client)
    {
        if (client is null)
        {
            return IPAddress.None;
        }

        if (client.IsIPv4MappedToIPv6)
        {
            return client.MapToIPv4();
        }

        if (client.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return client;
        }

        var bytes = client.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    public void Dispose()
    {
        _buckets.Dispose();
        _knownKeys.Dispose();
    }
}
