using System.Diagnostics;
using System.Threading.RateLimiting;
using RedisRateLimiting;
using StackExchange.Redis;

namespace OrderCancel.Api.Http;

/// <summary>
/// The per-partner token buckets in Redis when <c>ConnectionStrings:Redis</c> is set, so that a partner's limit holds
/// across every instance (SPEC §13). The bucket is RedisRateLimiting's token bucket: one Lua script reads, refills and
/// takes atomically, whichever instance asks.
/// <para>
/// Redis is a convenience here, not a dependency: when it cannot be reached the service serves without the limit
/// (fails open) rather than refusing or stalling every partner for a rate limiter's sake. The outage is logged once
/// when it starts and once when it ends, as <see cref="Persistence.DatabaseOutage"/> does for the database; each
/// request served unlimited is counted (<c>ordercancel.rate_limit.unlimited</c>), and <c>ordercancel.rate_limit.redis_up</c>
/// says whether Redis answers. While the outage lasts no request asks Redis; a probe takes a permit of its own every
/// second and ends the outage when Redis gives it promptly.
/// </para>
/// <para>
/// No request waits on Redis longer than its <c>asyncTimeout</c> (500 ms unless the connection string says otherwise),
/// and none at all while the connection is down: commands fail at once instead of queuing for a reconnect. A request
/// whose answer is late is served unlimited; whether that is an outage (a hung Redis) or this process being slow (a
/// busy machine) is then asked once, with more time (see <see cref="Met"/>).
/// </para>
/// </summary>
public sealed class SharedBuckets(IConfiguration configuration, Telemetry.OrderCancelMetrics metrics, ILogger<SharedBuckets> logger)
    : IHostedService, IAsyncDisposable
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Applied before the connection string, which may say otherwise: connects (at start and after a loss) give up
    /// after a second, and a request waits for an answer at most half a second.
    /// </summary>
    public const string Defaults = "connectTimeout=1000,asyncTimeout=500";

    private readonly string? _connectionString = configuration.GetConnectionString("Redis") is { Length: > 0 } given ? given : null;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private ConnectionMultiplexer? _redis;
    private TimeSpan _timeout;
    private long _startedAt;
    private bool _down;
    private int _confirming;
    private int _disposed;

    /// <summary>Whether <c>ConnectionStrings:Redis</c> is set; without it each instance keeps its own buckets.</summary>
    public bool IsConfigured => _connectionString is not null;

    /// <summary>How long the first take at start may take, compiling the path and loading the script: 10 × <c>asyncTimeout</c> (5 s).</summary>
    private TimeSpan WarmUpTimeout => 10 * _timeout;

    /// <summary>How long Redis has to answer when a request found it slow, before that is an outage: 4 × <c>asyncTimeout</c> (2 s).</summary>
    private TimeSpan ConfirmTimeout => 4 * _timeout;

    /// <summary>True while requests are served without the limit: Redis not connected yet, or lost.</summary>
    private bool ServesUnlimited
    {
        get
        {
            lock (_gate)
            {
                return _down || _redis is null;
            }
        }
    }

    /// <summary>A partner's bucket (or the admin key's), shared through Redis with every instance.</summary>
    public RateLimiter Bucket(string name, int permitsPerSecond) => new FailOpenBucket(this, $"ordercancel:{name}", permitsPerSecond);

    /// <summary>The configuration StackExchange.Redis connects with: <see cref="Defaults"/>, the connection string, then what failing open needs.</summary>
    public static ConfigurationOptions Options(string connectionString)
    {
        var options = ConfigurationOptions.Parse($"{Defaults},{connectionString}");

        // Start without Redis and keep reconnecting by itself, once a second.
        options.AbortOnConnectFail = false;
        options.ReconnectRetryPolicy = new LinearRetry((int)ProbeInterval.TotalMilliseconds);

        // While disconnected a command fails at once; the default queues it until the connection is back or it times out.
        options.BacklogPolicy = BacklogPolicy.FailFast;

        // Only async commands are sent, but a busy connection's turn to write is awaited up to syncTimeout: no shorter
        // than asyncTimeout, or a command would be given up before the time a request may wait for it.
        options.SyncTimeout = Math.Max(options.SyncTimeout, options.AsyncTimeout);
        return options;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_connectionString is null)
        {
            return;
        }

        var options = Options(_connectionString);
        var endpoints = string.Join(", ", options.EndPoints.Select(EndPointCollection.ToString));
        logger.LogInformation("Rate limits: one bucket per partner across instances, in Redis at {Endpoints}", endpoints);

        // Waits for the first connection (at most connectTimeout a try), so that the first requests find it.
        var redis = await ConnectionMultiplexer.ConnectAsync(options);
        lock (_gate)
        {
            _redis = redis;
            _timeout = TimeSpan.FromMilliseconds(options.AsyncTimeout);
        }

        // A first take, unhurried: it compiles the path and loads the script, which on a busy machine can take longer
        // than a request may wait, so that the first requests are not served unlimited for it.
        if (!redis.IsConnected || !await TakesAsync(WarmUpTimeout, cancellationToken))
        {
            Report($"no answer from {endpoints} at start");
        }
        else
        {
            metrics.RedisUp(true);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => _stopping.CancelAsync();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _redis is { } redis)
        {
            await redis.DisposeAsync();
        }
    }

    /// <summary>
    /// True when <paramref name="exception"/>, thrown while taking a permit, says Redis cannot give one now: anything but
    /// the cancellation <paramref name="cancellation"/> asked for. Besides its own exceptions and timeouts,
    /// StackExchange.Redis lets through what a connection that drops while a command is being written throws (the
    /// command cancelled, or its pipe's writer already completed); a Redis killed under load made 500s of both.
    /// </summary>
    public static bool IsUnavailable(Exception exception, CancellationToken cancellation) =>
        !(exception is OperationCanceledException && cancellation.IsCancellationRequested);

    /// <summary>
    /// Records what a request met. A lost connection or a refusal (Redis loading, a replica, out of memory) is an outage
    /// at once. A slow answer may be this busy process's own doing, not Redis's: the outage is declared only if Redis
    /// does not answer a take within <see cref="ConfirmTimeout"/> either (one check at a time). Meanwhile requests still
    /// ask, each waiting no longer than <c>asyncTimeout</c>.
    /// </summary>
    private void Met(Exception exception)
    {
        if (exception is not TimeoutException)
        {
            Report(exception);
        }
        else if (Interlocked.Exchange(ref _confirming, 1) == 0)
        {
            _ = ConfirmAsync(exception);
        }
    }

    private async Task ConfirmAsync(Exception exception)
    {
        try
        {
            if (!(_redis!.IsConnected && await TakesAsync(ConfirmTimeout, _stopping.Token)))
            {
                Report(exception);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        finally
        {
            Volatile.Write(ref _confirming, 0);
        }
    }

    /// <summary>The first report of an outage logs it and starts the probe.</summary>
    private void Report(Exception exception) =>
        Report(exception is RedisException ? exception.GetBaseException().Message : $"{exception.GetType().Name}: {exception.GetBaseException().Message}");

    private void Report(string reason)
    {
        lock (_gate)
        {
            if (_down)
            {
                return;
            }

            _down = true;
            _startedAt = Stopwatch.GetTimestamp();
        }

        metrics.RedisUp(false);
        logger.LogWarning("Redis cannot be reached ({Reason}); serving without the per-partner rate limit until it is back", reason);
        _ = ProbeUntilBackAsync();
    }

    private async Task ProbeUntilBackAsync()
    {
        var redis = _redis!;
        try
        {
            while (true)
            {
                await Task.Delay(ProbeInterval, _stopping.Token);
                if (redis.IsConnected && await TakesAsync(_timeout, _stopping.Token))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return; // Shutting down.
        }

        TimeSpan lasted;
        lock (_gate)
        {
            _down = false;
            lasted = Stopwatch.GetElapsedTime(_startedAt);
        }

        metrics.RedisUp(true);
        logger.LogWarning("Redis is reachable again after {Seconds:0.0} s; the per-partner rate limit applies again", lasted.TotalSeconds);
    }

    /// <summary>Whether a permit can be taken from a bucket of the probe's own within <paramref name="timeout"/>, as a request takes one.</summary>
    private async Task<bool> TakesAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var probe = TokenBucket("ordercancel:probe", 1000);
        try
        {
            using var lease = await Within(probe.AcquireAsync(1, cancellationToken), timeout, cancellationToken);
            return true;
        }
        catch (Exception exception) when (IsUnavailable(exception, cancellationToken))
        {
            return false;
        }
    }

    /// <summary>
    /// <paramref name="acquiring"/>, waited for at most <paramref name="timeout"/>. One given up on still runs to its end:
    /// its failure then is observed here, so that it is no unobserved task exception.
    /// </summary>
    private static Task<RateLimitLease> Within(ValueTask<RateLimitLease> acquiring, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var task = acquiring.AsTask();
        _ = task.ContinueWith(
            static task => task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task.WaitAsync(timeout, cancellationToken);
    }

    private RedisTokenBucketRateLimiter<string> TokenBucket(string name, int permitsPerSecond)
    {
        var redis = _redis!;
        return new RedisTokenBucketRateLimiter<string>(name, new RedisTokenBucketRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => redis,
            TokenLimit = permitsPerSecond,
            TokensPerPeriod = permitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        });
    }

    /// <summary>What a request served without the limit gets: an acquired lease, counted with why (<c>unreachable</c>, <c>late</c>).</summary>
    private Lease Unlimited(string reason = Telemetry.OrderCancelMetrics.Unreachable)
    {
        metrics.ServedUnlimited(reason);
        return Lease.Acquired;
    }

    /// <summary>
    /// One partner's bucket: RedisRateLimiting's token bucket while Redis answers, no limit while it does not. ASP.NET
    /// Core's middleware first tries <see cref="RateLimiter.AttemptAcquire"/>, which cannot wait for Redis: it answers
    /// "not without asking" (as RedisRateLimiting's own limiters do), and the middleware then asks
    /// <see cref="RateLimiter.AcquireAsync"/>.
    /// </summary>
    private sealed class FailOpenBucket(SharedBuckets buckets, string name, int permitsPerSecond) : RateLimiter
    {
        private readonly long _createdAt = Stopwatch.GetTimestamp();
        private RedisTokenBucketRateLimiter<string>? _shared;

        public override TimeSpan? IdleDuration => _shared is { } shared ? shared.IdleDuration : Stopwatch.GetElapsedTime(_createdAt);

        public override RateLimiterStatistics? GetStatistics() => null;

        protected override RateLimitLease AttemptAcquireCore(int permitCount) =>
            buckets.ServesUnlimited ? buckets.Unlimited() : Lease.NotWithoutAsking;

        protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
        {
            if (buckets.ServesUnlimited)
            {
                return buckets.Unlimited();
            }

            try
            {
                using var lease = await Within(Shared().AcquireAsync(permitCount, cancellationToken), buckets._timeout, cancellationToken);
                if (lease.IsAcquired)
                {
                    return Lease.Acquired;
                }

                return Lease.Refused(lease.TryGetMetadata(RateLimitMetadataName.RetryAfter, out var seconds) ? TimeSpan.FromSeconds(seconds) : null);
            }
            catch (Exception exception) when (IsUnavailable(exception, cancellationToken))
            {
                buckets.Met(exception);
                return buckets.Unlimited(exception is TimeoutException ? Telemetry.OrderCancelMetrics.Late : Telemetry.OrderCancelMetrics.Unreachable);
            }
        }

        private RedisTokenBucketRateLimiter<string> Shared()
        {
            if (_shared is { } shared)
            {
                return shared;
            }

            var created = buckets.TokenBucket(name, permitsPerSecond);
            return Interlocked.CompareExchange(ref _shared, created, null) ?? created;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _shared?.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Acquired = new(true, null);

        /// <summary>What an attempt that would have to ask Redis answers: not acquired, nothing to say about when.</summary>
        public static readonly Lease NotWithoutAsking = new(false, null);

        public static Lease Refused(TimeSpan? retryAfter) => new(false, retryAfter);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } wait && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = wait;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
