namespace OrderCancel.Api.CancellationJobs;

public enum CancellationJobStatus
{
    Queued,
    Running,
    Completed,
    Stopped,
}

public enum CancellationScope
{
    /// <summary>Cancel each order whole.</summary>
    Order,

    /// <summary>Cancel only what remains of the filter's SKU on each order.</summary>
    MatchingLines,
}

/// <summary>What a job did, or would do (a dry run), to one order; <c>pending</c> until a batch gets to it.</summary>
public enum JobOutcome
{
    Pending,
    Cancelled,
    PartiallyCancelled,
    Scheduled,
    Refused,
}

/// <summary>
/// A bulk cancellation (SPEC §10): what to select, how to cancel, and where it stands. The orders it covers are fixed
/// when it starts (<see cref="CancellationJobOrder"/> rows); their outcomes say how far it got.
/// </summary>
public sealed class CancellationJob
{
    public Guid Id { get; init; }

    public Guid PartnerId { get; init; }

    public CancellationJobStatus Status { get; set; }

    /// <summary>Queued or running: not finished yet (a stop still ends it; a poll is asked to come back).</summary>
    public bool UnderWay => Status is CancellationJobStatus.Queued or CancellationJobStatus.Running;

    public bool DryRun { get; init; }

    /// <summary>The request as accepted (<see cref="JobRequest"/> as JSON), without the ids of <see cref="OrderIds"/>.</summary>
    public required string Request { get; init; }

    /// <summary>The <c>order_ids</c> selector, until the job starts and fixes its orders.</summary>
    public long[]? OrderIds { get; set; }

    /// <summary>Who created it (<c>api_key:&lt;id&gt;</c>), for the log; its changes are the job's own (<c>job:&lt;id&gt;</c>).</summary>
    public required string CreatedBy { get; init; }

    /// <summary>How many orders the job covers: fixed when it starts (0 while queued).</summary>
    public int Matched { get; set; }

    /// <summary>Counts and amounts as they were when the job finished (<see cref="JobSummary"/> as JSON); live until then.</summary>
    public string? Summary { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }
}

/// <summary>
/// What happened to one order a job covers, written in the transaction that changed the order (or, for an id that is
/// not the partner's order, as the job started). An order not yet processed has no row: it is in a <see cref="CancellationJobChunk"/>.
/// </summary>
public sealed class CancellationJobOrder
{
    public Guid JobId { get; init; }

    public long OrderId { get; init; }

    public JobOutcome Outcome { get; set; }

    /// <summary>For <see cref="JobOutcome.Refused"/>: the state rule's code, as a single cancel would answer it.</summary>
    public string? Code { get; set; }

    /// <summary>The event the change wrote; null for a dry run or a refusal.</summary>
    public Guid? EventId { get; set; }

    public decimal? AmountReleased { get; set; }

    public string? Currency { get; set; }

    public DateTimeOffset? ProcessedAt { get; set; }
}

/// <summary>
/// A batch's worth of a job's orders not yet processed, fixed when the job starts: a batch claims one chunk (<c>FOR UPDATE
/// SKIP LOCKED</c>), and deletes it in the transaction that writes its orders' changes and outcomes. So a job's pending
/// orders are its chunks' ids, and selecting 100,000 orders writes 1,000 rows, not 100,000.
/// </summary>
public sealed class CancellationJobChunk
{
    public Guid JobId { get; init; }

    /// <summary>The chunk's smallest id (its key; chunks cover disjoint ranges of ids, so the next claim starts past it).</summary>
    public long FirstOrderId { get; init; }

    /// <summary>The ids, ascending.</summary>
    public required long[] OrderIds { get; init; }
}

/// <summary>
/// What one batch did, by outcome, refusal code and currency, written in the batch's transaction: a job's counts are the
/// sum of its tallies (a few per batch), so reading them costs the same whatever the job's size.
/// </summary>
public sealed class CancellationJobTally
{
    public long Id { get; init; }

    public Guid JobId { get; init; }

    public JobOutcome Outcome { get; init; }

    public string? Code { get; init; }

    public string? Currency { get; init; }

    public int Orders { get; init; }

    public decimal AmountReleased { get; init; }
}
