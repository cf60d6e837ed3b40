using System.Diagnostics;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Scheduling;

/// <summary>
/// The one loop every background change runs in (the scheduler, bulk cancellation jobs): workers side by side, each
/// claiming a batch with <c>FOR UPDATE SKIP LOCKED</c> in a transaction of its own, applying each item through the
/// domain method a request uses, and committing the items' changes, events and outcomes together, until a batch
/// finds nothing more to do (the scheduler's: a batch that came back short). A crash at any instant leaves each item
/// done once or not at all.
/// </summary>
public static class BackgroundBatches
{
    /// <summary>Orders a batch claims. Small on purpose: with 500 the heap grew by ~150 MB during a sweep of 100,000 for no gain (bench/HISTORY.md).</summary>
    public const int BatchSize = 100;

    /// <summary>Batches run side by side: while one waits on the database, another applies its orders.</summary>
    public const int Workers = 4;

    /// <param name="batch">
    /// One batch in the transaction it is given (committed when it returns): whether there may be more to do after it
    /// (false ends the sweep: the other workers finish the batch they are in and stop), and its result.
    /// </param>
    /// <param name="committed">
    /// Called with each batch's result once it has committed (metrics count only what happened); what it returns is
    /// kept, the batch itself is not, so a sweep's memory does not grow with its size.
    /// </param>
    /// <param name="yieldTo">
    /// When given, only one worker claims batches while it is busy: requests come first. The others wait until the
    /// requests have stopped (or the sweep is done), then look again; and the one, after each batch it committed while
    /// requests were coming in, pauses as long as that batch took (unless they stop sooner), so under steady traffic the
    /// work takes at most about half of one worker's time.
    /// </param>
    /// <param name="goesOnAfter">
    /// When given, a batch that throws an exception this accepts is rolled back and its worker goes on with the next;
    /// the batch function has seen to it that the same batch is not tried again (a bulk job's fault is that job's
    /// alone: the others' batches go on). Any other exception ends the worker, and the sweep throws it once the others
    /// have finished.
    /// </param>
    public static async Task<List<TSummary>> RunAsync<TBatch, TSummary>(
        BackgroundDatabase database,
        Func<OrdersDbContext, CancellationToken, Task<(bool More, TBatch Result)>> batch,
        Func<TBatch, TSummary> committed,
        CancellationToken cancellation,
        InteractiveLoad? yieldTo = null,
        Func<Exception, bool>? goesOnAfter = null)
    {
        // Completed once a batch found nothing more: the workers waiting for requests to end must see it too, or under
        // steady traffic they would wait on, and the sweep (and a job's completion) with them.
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sweeps = await Task.WhenAll(Enumerable.Range(0, Workers).Select(async worker =>
        {
            List<TSummary> summaries = [];
            while (!finished.Task.IsCompleted)
            {
                if (worker > 0 && yieldTo is { Busy: true })
                {
                    await WaitAsync(yieldTo, Timeout.InfiniteTimeSpan, finished.Task, cancellation);
                    continue;
                }

                var started = Stopwatch.GetTimestamp();
                bool more;
                try
                {
                    (more, var result) = await database.InTransactionAsync(batch, cancellation);
                    summaries.Add(committed(result));
                }
                catch (Exception exception) when (goesOnAfter?.Invoke(exception) == true)
                {
                    continue;
                }

                if (!more)
                {
                    finished.TrySetResult();
                }
                else if (yieldTo is { Busy: true })
                {
                    // A batch's statements and the orders it applies take the CPU requests run on: with the pause,
                    // single-order gets beside a job kept 74 % of their rate alone, 59 % without (bench/HISTORY.md).
                    await WaitAsync(yieldTo, Stopwatch.GetElapsedTime(started), finished.Task, cancellation);
                }
            }

            return summaries;
        }));
        return [.. sweeps.SelectMany(summaries => summaries)];
    }

    /// <summary>Waits until the requests have stopped (<see cref="InteractiveLoad.QuietPeriod"/>), the work is finished, or <paramref name="atMost"/> has passed.</summary>
    private static async Task WaitAsync(InteractiveLoad load, TimeSpan atMost, Task finished, CancellationToken cancellation)
    {
        // Ended with the wait, so a wait on the requests that is no longer needed does not linger until they stop.
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        await Task.WhenAny(load.WhenQuietAsync(waiting.Token), finished, Task.Delay(atMost, waiting.Token));
        await waiting.CancelAsync();
        cancellation.ThrowIfCancellationRequested();
    }
}

/// <summary>
/// A background service that does its work every poll interval (or sooner when woken), and survives what a round
/// can meet: a lost database is reported once as an outage, anything else is logged, and the next round tries again.
/// </summary>
public abstract class PollingWorker(TimeProvider clock, DatabaseOutage outage, ILogger logger) : BackgroundService
{
    private TaskCompletionSource _wake = NewWake();
    private TaskCompletionSource _nextWake = NewWake();
    private long _wakes;
    private long _lastRoundAsOf = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>
    /// The clock reading the latest finished round (successful or not) started at; lets a caller know the work due by
    /// a given instant is done, which a count of rounds cannot (a round that began before the clock moved may finish after it).
    /// </summary>
    public DateTimeOffset LastRoundAsOf => new(Volatile.Read(ref _lastRoundAsOf), TimeSpan.Zero);

    protected abstract TimeSpan PollInterval { get; }

    /// <summary>How many times it was woken so far: a round that runs long sees by it that new work came meanwhile.</summary>
    public long Wakes => Interlocked.Read(ref _wakes);

    /// <summary>Ends at the next wake: what a round that waits mid-way (for a batch to end) waits for too, to see new work at once.</summary>
    public Task NextWake => Volatile.Read(ref _nextWake).Task;

    /// <summary>Starts a round now rather than at the next tick (new work was just committed).</summary>
    public void Wake()
    {
        Interlocked.Increment(ref _wakes);
        Volatile.Read(ref _wake).TrySetResult();
        Interlocked.Exchange(ref _nextWake, NewWake()).TrySetResult();
    }

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected abstract Task RunRoundAsync(DateTimeOffset now, CancellationToken cancellation);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wake = Volatile.Read(ref _wake);
            try
            {
                await Task.WhenAny(wake.Task, Task.Delay(PollInterval, clock, stoppingToken));
                stoppingToken.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (wake.Task.IsCompleted)
            {
                // Whatever woke this round is seen by it; a wake from here on starts the next.
                Interlocked.CompareExchange(ref _wake, NewWake(), wake);
            }

            var now = clock.GetUtcNow();
            try
            {
                // A round that finds nothing makes no span; the work it finds turns tracing back on (Telemetry.Traced).
                using var untraced = Telemetry.Telemetry.Untraced();
                await RunRoundAsync(now, stoppingToken);
            }
            catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !stoppingToken.IsCancellationRequested)
            {
                outage.Report(exception);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // One bad round must not stop the worker; the next tries again.
                logger.LogError(exception, "{Worker} failed a round", GetType().Name);
            }
            finally
            {
                Volatile.Write(ref _lastRoundAsOf, now.UtcTicks);
            }
        }
    }
}
