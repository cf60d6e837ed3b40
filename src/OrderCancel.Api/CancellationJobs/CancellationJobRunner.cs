using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Telemetry;
using OrderCancel.Domain;

namespace OrderCancel.Api.CancellationJobs;

/// <summary>
/// Runs bulk cancellation jobs (SPEC §10) on any instance: starts queued ones (fixing the orders each covers), and works
/// the running ones side by side in the shared batch loop (<see cref="BackgroundBatches"/>), taking turns batch by
/// batch by partner and then by job (<see cref="JobTurns"/>). Each order goes through the same domain method as a
/// single cancel, and its change, its event and its outcome row commit in one transaction, so whichever instance dies
/// when, no order is changed twice and none is skipped.
/// </summary>
public sealed class CancellationJobRunner(
    BackgroundDatabase database, TimeProvider clock, OrderCancelMetrics metrics, InteractiveLoad load, ILogger<CancellationJobRunner> logger)
{
    /// <summary>
    /// Starts every queued job, then works every running one until it is done or stopped, in one sweep: a job created
    /// meanwhile (<paramref name="wakes"/> moves, and <paramref name="nextWake"/> ends a worker's wait for a batch) joins it at once, and every <paramref name="refreshEvery"/> it looks
    /// again for jobs started elsewhere. Returns the orders processed. A job that fails (a bug, not a lost database)
    /// is logged and left for a later look, and the others go on.
    /// </summary>
    public async Task<int> RunAsync(Func<long> wakes, Func<Task> nextWake, TimeSpan refreshEvery, CancellationToken cancellation)
    {
        var turns = new JobTurns(wakes, nextWake, refreshEvery);
        while (turns.BeginRefresh())
        {
            try
            {
                var started = await database.InTransactionAsync((db, token) => RefreshAsync(db, turns, token), cancellation);
                turns.Started(started);
            }
            catch (Exception exception) when (IsJobFault(exception, cancellation))
            {
                // Logged by RefreshAsync; what failed is set aside and the rest goes on.
            }
        }

        var processed = 0;
        while (turns.HasWork)
        {
            var batches = await BackgroundBatches.RunAsync(
                database,
                (db, token) => TakeTurnAsync(db, turns, token),
                committed =>
                {
                    turns.Started(committed.Started);
                    return Record(committed);
                },
                cancellation,
                load,
                exception => IsJobFault(exception, cancellation));
            processed += batches.Sum();

            // A job whose last chunk was claimed as the sweep ended.
            while (turns.TakeCompletion() is { } jobId)
            {
                try
                {
                    await InTransactionAsync((db, token) => CompleteAsync(db, turns, jobId, token), cancellation);
                }
                catch (Exception exception) when (IsJobFault(exception, cancellation))
                {
                    // Logged by CompleteAsync; the next look completes it.
                }
            }
        }

        return processed;
    }

    /// <summary>One turn of a worker (<see cref="JobTurns.Next"/>), in the transaction the loop gives it; no more once there is nothing to do.</summary>
    private async Task<(bool More, CommittedBatch Result)> TakeTurnAsync(OrdersDbContext db, JobTurns turns, CancellationToken cancellation)
    {
        switch (turns.Next())
        {
            case JobTurn.Refresh:
                return (true, await RefreshAsync(db, turns, cancellation) is { } started ? CommittedBatch.None with { Started = started } : CommittedBatch.None);
            case JobTurn.Complete complete:
                await CompleteAsync(db, turns, complete.JobId, cancellation);
                return (true, CommittedBatch.None);
            case JobTurn.Wait wait:
                await wait.BatchEnded.WaitAsync(cancellation);
                return (true, CommittedBatch.None);
            case JobTurn.Claim claim:
                try
                {
                    // The worker looks for jobs untraced; a running job is work, traced.
                    using var traced = Telemetry.Telemetry.Traced();
                    var (claimed, batch) = await ProcessBatchAsync(db, claim.Sweep, cancellation);
                    if (claimed < BackgroundBatches.BatchSize || claim.Sweep.AllClaimed)
                    {
                        turns.Exhausted(claim.Sweep);
                    }

                    return (true, batch);
                }
                catch (Exception exception) when (IsJobFault(exception, cancellation))
                {
                    turns.Faulted(claim.Sweep.JobId);
                    logger.LogError(exception, "Working cancellation job {JobId} failed; what its batches committed stays, the rest is tried later", claim.Sweep.JobId);
                    throw;
                }
                finally
                {
                    turns.BatchEnded(claim.Sweep);
                }

            default:
                return (false, CommittedBatch.None);
        }
    }

    /// <summary>
    /// Starts one queued job, and answers its sweep (to join the others once this has committed: <see cref="JobTurns.Started"/>); or, none being
    /// left, reads the running ones (<see cref="JobTurns.Refreshed"/>) and answers null.
    /// </summary>
    private async Task<JobSweep?> RefreshAsync(OrdersDbContext db, JobTurns turns, CancellationToken cancellation)
    {
        QueuedJob? claimed = null;
        try
        {
            claimed = await db.ClaimCancellationJobToStartAsync(turns.NotToStart(), cancellation);
            if (claimed is not null)
            {
                using var traced = Telemetry.Telemetry.Traced();
                using var span = Telemetry.Telemetry.Source.StartActivity("cancellation_job.start");
                span?.SetTag("ordercancel.job.id", claimed.Id);
                await db.StartCancellationJobAsync(claimed, clock.GetUtcNow(), cancellation);
                var id = claimed.Id;
                return await Sweeps(db, db.CancellationJobs.Where(j => j.Id == id)).SingleAsync(cancellation);
            }

            turns.Refreshed(await Sweeps(db, db.CancellationJobs.Where(j => j.Status == CancellationJobStatus.Running).OrderBy(j => j.CreatedAt))
                .ToListAsync(cancellation));
            return null;
        }
        catch (Exception exception)
        {
            turns.RefreshFailed(claimed?.Id);
            if (!IsJobFault(exception, cancellation))
            {
                throw;
            }

            if (claimed is null)
            {
                logger.LogError(exception, "Reading the running cancellation jobs failed; they are read again later");
            }
            else
            {
                logger.LogError(exception, "Starting cancellation job {JobId} failed; it stays queued for the next round", claimed.Id);
            }

            throw;
        }
    }

    /// <summary>A sweep from the start of each job.</summary>
    private static IQueryable<JobSweep> Sweeps(OrdersDbContext db, IQueryable<CancellationJob> jobs) =>
        jobs.Select(j => new JobSweep(j.Id, j.PartnerId, j.DryRun, db.CancellationJobChunks.Where(c => c.JobId == j.Id).Max(c => (long?)c.FirstOrderId) ?? 0));

    /// <summary>Completes a job whose chunks have all been claimed, once its batches in flight have committed (and all of them did).</summary>
    private async Task CompleteAsync(OrdersDbContext db, JobTurns turns, Guid jobId, CancellationToken cancellation)
    {
        try
        {
            using var traced = Telemetry.Telemetry.Traced();
            await CompleteIfDoneAsync(db, jobId, cancellation);
            turns.Completed(jobId);
        }
        catch (Exception exception) when (IsJobFault(exception, cancellation))
        {
            turns.Faulted(jobId);
            logger.LogError(exception, "Completing cancellation job {JobId} failed; it is tried again later", jobId);
            throw;
        }
    }

    /// <summary>A fault of one job: not a lost database (every job would meet it: the worker reports the outage) nor a shutdown.</summary>
    private static bool IsJobFault(Exception exception, CancellationToken cancellation) =>
        !DatabaseOutage.IsUnavailable(exception) && !(exception is OperationCanceledException && cancellation.IsCancellationRequested);

    /// <summary>What the job has done so far: its tallies, summed (a few rows a batch, whatever the job's size).</summary>
    public static async Task<JobSummary> SummaryAsync(OrdersDbContext db, CancellationJob job, CancellationToken cancellation)
    {
        var groups = await db.CancellationJobTallies.AsNoTracking()
            .Where(t => t.JobId == job.Id)
            .GroupBy(t => new { t.Outcome, t.Code, t.Currency })
            .Select(g => new { g.Key.Outcome, g.Key.Code, g.Key.Currency, Orders = g.Sum(t => t.Orders), Amount = g.Sum(t => t.AmountReleased) })
            .ToListAsync(cancellation);
        return JobSummary.Of(job.Matched, [.. groups.Select(g => (g.Outcome, g.Code, g.Currency, g.Orders, g.Amount))]);
    }

    /// <summary>
    /// Ends a job (locked with <see cref="OrdersDbContext.LockCancellationJobAsync"/>): its counts are kept on it and
    /// its event (<c>cancellation_job.completed</c> or <c>.stopped</c>) goes out through the outbox like any other.
    /// </summary>
    public static async Task FinishAsync(
        OrdersDbContext db, CancellationJob job, CancellationJobStatus status, string actor, DateTimeOffset now, CancellationToken cancellation)
    {
        var summary = await SummaryAsync(db, job, cancellation);
        job.Status = status;
        job.FinishedAt = now;
        job.Summary = summary.Serialize();
        db.Events.Add(new OrderEventRecord
        {
            Id = Guid.CreateVersion7(now),
            PartnerId = job.PartnerId,
            OrderId = null,
            Type = status == CancellationJobStatus.Completed ? CancellationJobEvents.Completed : CancellationJobEvents.Stopped,
            OccurredAt = now,
            Actor = actor,
            Data = System.Text.Json.JsonSerializer.Serialize(new JobEventData(CancellationJobResponse.From(job, summary)), Json.Options),
        });
        await db.SaveChangesAsync(cancellation);
    }

    private async Task<(int Claimed, CommittedBatch Result)> ProcessBatchAsync(OrdersDbContext db, JobSweep sweep, CancellationToken cancellation)
    {
        var jobId = sweep.JobId;
        var batch = await db.ClaimCancellationJobBatchAsync(sweep, cancellation);
        if (batch is not { OrderIds.Length: > 0 })
        {
            return (0, CommittedBatch.None);
        }

        sweep.Claimed(batch.OrderIds[^1]);

        using var span = Telemetry.Telemetry.Source.StartActivity("cancellation_job.batch");
        var now = clock.GetUtcNow();
        var actor = Actors.Job(jobId);
        var request = batch.Request.ToCancelRequest();
        var byId = batch.Orders.ToDictionary(order => order.Id);
        List<JobOrderOutcome> outcomes = [];
        foreach (var id in batch.OrderIds)
        {
            if (!byId.TryGetValue(id, out var order))
            {
                outcomes.Add(new JobOrderOutcome(id, JobOutcome.Refused, "order_not_found", null, 0m, null));
                continue;
            }

            var result = batch.Request.Scope == CancellationScope.MatchingLines
                ? order.CancelSku(batch.Request.Filter!.Sku!, request, now, actor, batch.Policy)
                : order.Cancel(request, now, actor, batch.Policy);
            outcomes.Add(OutcomeOf(order, result, batch.DryRun));
        }

        await db.SaveCancellationJobBatchAsync(batch.DryRun ? [] : batch.Orders, jobId, batch.OrderIds[0], outcomes, now, cancellation);
        span?.SetTag("ordercancel.job.id", jobId).SetTag("ordercancel.batch.orders", outcomes.Count).SetTag("ordercancel.job.dry_run", batch.DryRun);
        return (batch.OrderIds.Length, new CommittedBatch(batch, outcomes));
    }

    /// <summary>After a batch committed: each order it changed counts as a cancellation (a dry run's do not). Returns how many it processed.</summary>
    private int Record(CommittedBatch committed)
    {
        if (committed.Batch is not { DryRun: false } batch)
        {
            return committed.Outcomes.Count;
        }

        var type = batch.Request.Scope == CancellationScope.MatchingLines ? "partial" : "full";
        var reason = Json.Name(batch.Request.Reason);
        foreach (var outcome in committed.Outcomes)
        {
            var scheduled = outcome.Outcome == JobOutcome.Scheduled;
            metrics.Cancellation(type, reason, scheduled, outcome.Code ?? (scheduled ? OrderMutation.Scheduled : OrderMutation.Applied));
        }

        return committed.Outcomes.Count;
    }

    private static JobOrderOutcome OutcomeOf(Order order, Result<OrderChange> result, bool dryRun)
    {
        if (!result.IsSuccess)
        {
            return new JobOrderOutcome(order.Id, JobOutcome.Refused, result.Error!.Code, null, 0m, order.CurrencyCode);
        }

        var change = result.Value;
        var outcome = change switch
        {
            { Scheduled: true } => JobOutcome.Scheduled,
            { Event.Type: OrderEventType.OrderCancelled } => JobOutcome.Cancelled,
            _ => JobOutcome.PartiallyCancelled,
        };
        return new JobOrderOutcome(order.Id, outcome, null, dryRun ? null : change.Event.Id, change.AmountReleased, order.CurrencyCode);
    }

    private async Task CompleteIfDoneAsync(OrdersDbContext db, Guid jobId, CancellationToken cancellation)
    {
        // Locked first, so the batches in flight have committed: the pending count below sees all they did.
        var job = await db.LockCancellationJobAsync(jobId, partnerId: null, cancellation);
        if (job is not { Status: CancellationJobStatus.Running }
            || await db.CancellationJobTallies.Where(t => t.JobId == jobId).SumAsync(t => t.Orders, cancellation) < job.Matched)
        {
            return;
        }

        await FinishAsync(db, job, CancellationJobStatus.Completed, Actors.Job(jobId), clock.GetUtcNow(), cancellation);
    }

    private Task<bool> InTransactionAsync(Func<OrdersDbContext, CancellationToken, Task> work, CancellationToken cancellation) =>
        database.InTransactionAsync(
            async (db, token) =>
            {
                await work(db, token);
                return true;
            },
            cancellation);
}

/// <summary>
/// One sweep over a job (whose partner and dry-run flag never change): the highest order id its batches claimed, so
/// the next claim starts at the chunk past it instead of walking the index entries of the chunks the batches before it
/// deleted. A chunk below it that a failed batch gave back is claimed by a later sweep, which starts from the beginning.
/// </summary>
/// <param name="lastChunk">
/// The first id of the job's last chunk as the sweep began (chunks are fixed when the job starts, and only go): once a
/// batch has claimed it, nothing is left to claim, and the job is completed as soon as its batches in flight are,
/// without a worker's turn spent on a claim that finds nothing (beside a large job, that turn came only after one of
/// its batches).
/// </param>
internal sealed class JobSweep(Guid jobId, Guid partnerId, bool dryRun, long lastChunk)
{
    private long _claimedUpTo;

    public Guid JobId => jobId;

    public Guid PartnerId => partnerId;

    public bool DryRun => dryRun;

    public long ClaimedUpTo => Interlocked.Read(ref _claimedUpTo);

    /// <summary>The job's last chunk has been claimed (the ranges are disjoint and ascending: no id past it is in another).</summary>
    public bool AllClaimed => ClaimedUpTo >= lastChunk;

    /// <summary>The turn it was last given (<see cref="JobTurns"/> counts them, and reads and writes this under its lock).</summary>
    public long Served { get; set; }

    public void Claimed(long highest)
    {
        var seen = ClaimedUpTo;
        while (highest > seen)
        {
            var was = Interlocked.CompareExchange(ref _claimedUpTo, highest, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}

/// <summary>A batch that committed: the job's request (null when nothing was claimed) and each order's outcome.</summary>
internal sealed record CommittedBatch(JobBatch? Batch, List<JobOrderOutcome> Outcomes)
{
    /// <summary>A job the turn started, to be worked from now on.</summary>
    public JobSweep? Started { get; init; }

    /// <summary>A turn that processed no order: a refresh, a completion, or a claim that found nothing.</summary>
    public static CommittedBatch None { get; } = new(null, []);
}

/// <summary>Looks for cancellation jobs to start or work every <c>CancellationJobs:PollInterval</c> (default 2 s), and at once when one is created here.</summary>
public sealed class CancellationJobWorker(
    CancellationJobRunner runner,
    TimeProvider clock,
    IConfiguration configuration,
    DatabaseOutage outage,
    ILogger<CancellationJobWorker> logger) : PollingWorker(clock, outage, logger)
{
    protected override TimeSpan PollInterval { get; } = configuration.GetValue("CancellationJobs:PollInterval", TimeSpan.FromSeconds(2));

    protected override async Task RunRoundAsync(DateTimeOffset now, CancellationToken cancellation)
    {
        var processed = await runner.RunAsync(() => Wakes, () => NextWake, PollInterval, cancellation);
        if (processed > 0)
        {
            logger.LogInformation("Cancellation jobs processed {Orders} orders", processed);
        }
    }
}
