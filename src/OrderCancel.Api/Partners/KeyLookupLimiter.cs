using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Caching.Memory;

namespace OrderCancel.Api.Partners;

/// <summary>
/// Keeps key guessing off the key table: a key this instance has not seen valid is looked up only with a permit from
/// its client address's own token bucket (<c>RateLimiting:UnknownKeyPermitsPerSecond</c>, default 10, burst of the
/// same size). A key that was found active is remembered (by its hash) and skips the bucket from then on, so a
/// partner's traffic is not slowed by a flood of bad keys from its own address; its first requests to an instance
/// take one permit together. IPv6 clients share a bucket per /64,
/// the smallest network one client is usually given.
/// </summary>
public sealed class KeyLookupLimiter : IDisposable
{
    /// <summary>Valid keys remembered at most: a partner has a few, so this is many thousands of partners.</summary>
    private const int KnownKeysLimit = 100_000;

    private readonly PartitionedRateLimiter<IPAddress> _buckets;
    private readonly MemoryCache _knownKeys = new(new MemoryCacheOptions { SizeLimit = KnownKeysLimit });
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _lookingUp = new();

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
    /// Looks the key with this hash up through <paramref name="lookup"/> (which answers null for a key that is not
    /// active) when it may be: at once for a key seen active, otherwise with a permit from the client's bucket. Requests
    /// that bring the same key while it is being looked up wait for that lookup instead of taking permits of their own,
    /// so a partner's burst on an instance that has not seen its key yet costs one permit, not one each. Answers false,
    /// with how long to wait, when the bucket is empty.
    /// </summary>
    public async Task<(bool Allowed, TimeSpan RetryAfter, T? Key)> LookUpAsync<T>(
        byte[] keyHash, IPAddress? client, Func<Task<T?>> lookup, CancellationToken cancellation)
        where T : class
    {
        var name = Convert.ToBase64String(keyHash);
        while (true)
        {
            if (_knownKeys.TryGetValue(name, out _))
            {
                return (true, TimeSpan.Zero, await FoundAsync(name, lookup));
            }

            var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var first = _lookingUp.GetOrAdd(name, mine);
            if (first != mine)
            {
                // Then the key is known active (the loop looks it up at once) or it is not (the loop takes a permit).
                await first.Task.WaitAsync(cancellation);
                continue;
            }

            try
            {
                using var lease = _buckets.AttemptAcquire(BucketOf(client));
                if (!lease.IsAcquired)
                {
                    return (false, lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1), null);
                }

                return (true, TimeSpan.Zero, await FoundAsync(name, lookup));
            }
            finally
            {
                _lookingUp.TryRemove(KeyValuePair.Create(name, mine));
                mine.TrySetResult();
            }
        }
    }

    /// <summary>Looks up, and keeps what it found: an active key skips the bucket from now on, and a revoked one no longer does.</summary>
    private async Task<T?> FoundAsync<T>(string name, Func<Task<T?>> lookup)
        where T : class
    {
        var key = await lookup();
        if (key is not null)
        {
            _knownKeys.Set(name, true, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = TimeSpan.FromHours(1) });
        }
        else
        {
            _knownKeys.Remove(name);
        }

        return key;
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
