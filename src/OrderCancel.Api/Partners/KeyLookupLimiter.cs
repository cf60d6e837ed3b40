using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Caching.Memory;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Partners;

/// <summary>
/// How a request's API key is looked up (the key table, with the partner's settings):
/// - Kept: a key found active is kept, by its hash, and answered from memory for one second after the lookup started,
///   so a partner's steady traffic costs one lookup a second per instance, not one a request. A revoked key or a
///   changed setting is therefore followed by every instance within one second (SPEC §13), and by the instance that
///   made the change at once (<see cref="Forget"/>). A key unused for a minute is forgotten, so memory holds the keys
///   used in the last minute (at most <see cref="KnownKeysLimit"/>).
/// - Limited: a key this instance does not hold is looked up only with a permit from its client address's own token
///   bucket (<c>RateLimiting:UnknownKeyPermitsPerSecond</c>, default 10, burst of the same size), which keeps key
///   guessing off the key table; a key held skips the bucket, so a partner's traffic is not slowed by a flood of bad
///   keys from its own address. IPv6 clients share a bucket per /64, the smallest network one client is usually given.
/// - Coalesced: requests that bring a key while it is being looked up wait for that lookup, so a burst costs one
///   lookup (and, for a key not held, one permit).
/// </summary>
public sealed class KeyLookupLimiter : IDisposable
{
    /// <summary>Active keys held at most: a partner has a few, so this is many thousands of partners.</summary>
    public const int KnownKeysLimit = 100_000;

    /// <summary>How long a key read from the table is answered from memory, from the start of its lookup.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    /// <summary>A key not used for this long is forgotten.</summary>
    public static readonly TimeSpan Unused = TimeSpan.FromMinutes(1);

    private readonly PartitionedRateLimiter<IPAddress> _buckets;
    private readonly MemoryCache _knownKeys;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _lookingUp = new();
    private readonly TimeProvider _clock;
    private long _changes;

    public KeyLookupLimiter(IConfiguration configuration, TimeProvider clock)
    {
        _clock = clock;
        _knownKeys = new MemoryCache(new MemoryCacheOptions { SizeLimit = KnownKeysLimit, Clock = new CacheClock(clock) });
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

    /// <summary>Keys held, expired ones included until the cache next sweeps them out.</summary>
    public int KnownKeys => _knownKeys.Count;

    /// <summary>
    /// The active key with this hash (null for a key that is not active): from memory while fresh, otherwise through
    /// <paramref name="lookup"/>, at once for a key held and with a permit from the client's bucket for any other.
    /// Answers false, with how long to wait, when the bucket is empty.
    /// </summary>
    public async Task<(bool Allowed, TimeSpan RetryAfter, ActiveKey? Key)> LookUpAsync(
        byte[] keyHash, IPAddress? client, Func<Task<ActiveKey?>> lookup, CancellationToken cancellation)
    {
        var name = Convert.ToBase64String(keyHash);
        while (true)
        {
            var held = _knownKeys.TryGetValue(name, out Held? known);
            if (held && known!.FreshUntil > _clock.GetUtcNow() && known.Changes == Volatile.Read(ref _changes))
            {
                return (true, TimeSpan.Zero, known.Key);
            }

            var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var first = _lookingUp.GetOrAdd(name, mine);
            if (first != mine)
            {
                // Then the key is held fresh (answered above), held stale or not at all (looked up again).
                await first.Task.WaitAsync(cancellation);
                continue;
            }

            try
            {
                if (held)
                {
                    return (true, TimeSpan.Zero, await FoundAsync(name, lookup));
                }

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

    /// <summary>
    /// A key was revoked or a partner's settings changed here (call it once the change has committed): no key held is
    /// answered from memory again before it is looked up. Such changes are rare, so all keys pay, not the partner's alone.
    /// </summary>
    public void Forget() => Interlocked.Increment(ref _changes);

    /// <summary>Looks up, and holds what it found: an active key is answered from memory for a while, and a revoked one no longer is.</summary>
    private async Task<ActiveKey?> FoundAsync(string name, Func<Task<ActiveKey?>> lookup)
    {
        // Read before the lookup, so that a change made while it runs leaves what it found stale.
        var changes = Volatile.Read(ref _changes);
        var freshUntil = _clock.GetUtcNow() + Freshness;
        var key = await lookup();
        if (key is not null)
        {
            _knownKeys.Set(name, new Held(key, freshUntil, changes), new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = Unused });
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

    /// <summary>A key found active, the instant until which it is answered from memory, and the local changes it has seen.</summary>
    private sealed record Held(ActiveKey Key, DateTimeOffset FreshUntil, long Changes);

    /// <summary>The service's clock for the cache's sliding expiry (a test's fake clock moves it too).</summary>
    private sealed class CacheClock(TimeProvider clock) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => clock.GetUtcNow();
    }
}
