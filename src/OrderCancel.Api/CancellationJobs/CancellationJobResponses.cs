using System.Text.Json;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.CancellationJobs;

/// <summary>A job as partners see it: what was asked, where it stands, and what it did so far (or would do: a dry run).</summary>
/// <param name="AmountReleased">Per currency (ISO 4217 code): what the job's cancellations released (SPEC §4), or would release.</param>
public sealed record CancellationJobResponse(
    Guid Id,
    CancellationJobStatus Status,
    bool DryRun,
    JobRequest Request,
    JobCounts Counts,
    IReadOnlyDictionary<string, decimal> AmountReleased,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt)
{
    public static CancellationJobResponse From(CancellationJob job, JobSummary summary) => new(
        job.Id,
        job.Status,
        job.DryRun,
        JobRequest.Parse(job.Request),
        summary.Counts,
        summary.AmountReleased,
        job.CreatedAt,
        job.StartedAt,
        job.FinishedAt);
}

/// <summary>The request as accepted; <c>order_ids</c> is given as its count (each id has a row in the results).</summary>
public sealed record JobRequest(
    JobFilter? Filter,
    int? OrderIdsCount,
    CancellationReason Reason,
    string? Note,
    DateOnly? EffectiveDate,
    bool? WaiveShipping,
    CancellationScope Scope)
{
    public static JobRequest From(CreateCancellationJobRequest request) => new(
        request.Filter is { } filter
            ? new JobFilter(
                filter.Status,
                filter.Kind,
                filter.Sku,
                filter.CustomerRef,
                filter.Reference,
                filter.CreatedFrom?.ToUniversalTime(),
                filter.CreatedTo?.ToUniversalTime(),
                filter.Metadata is { } metadata ? new RawJson(metadata.GetRawText()) : null)
            : null,
        request.OrderIds?.Count,
        request.Reason!.Value,
        request.Note,
        request.EffectiveDate,
        request.WaiveShipping,
        request.Scope ?? CancellationScope.Order);

    public static JobRequest Parse(string stored) => JsonSerializer.Deserialize<JobRequest>(stored, Json.Options)!;

    public string Serialize() => JsonSerializer.Serialize(this, Json.Options);

    /// <summary>What each order gets: a full cancellation, or (matching_lines) the SKU's lines, chosen per order.</summary>
    public CancelRequest ToCancelRequest() => new(Reason, Note, EffectiveDate, [], WaiveShipping);
}

public sealed record JobFilter(
    OrderStatus? Status,
    OrderKind? Kind,
    string? Sku,
    string? CustomerRef,
    string? Reference,
    DateTimeOffset? CreatedFrom,
    DateTimeOffset? CreatedTo,
    RawJson? Metadata);

/// <param name="Matched">Orders the job covers: fixed when it starts (0 while queued).</param>
/// <param name="Processed">Orders with an outcome; the rest are pending.</param>
/// <param name="RefusedByCode">The refusals by the code a single cancel would have answered.</param>
public sealed record JobCounts(
    int Matched,
    int Processed,
    int Cancelled,
    int PartiallyCancelled,
    int Scheduled,
    int Refused,
    IReadOnlyDictionary<string, int> RefusedByCode);

/// <summary>Counts and amounts, worked out from the job's rows; kept on the job when it finishes.</summary>
public sealed record JobSummary(JobCounts Counts, IReadOnlyDictionary<string, decimal> AmountReleased)
{
    public static readonly JobSummary None = new(new JobCounts(0, 0, 0, 0, 0, 0, new Dictionary<string, int>()), new Dictionary<string, decimal>());

    /// <param name="matched">The orders the job covers.</param>
    /// <param name="groups">What its batches did, by outcome, code and currency: how many orders, and the amount they released.</param>
    public static JobSummary Of(int matched, IReadOnlyList<(JobOutcome Outcome, string? Code, string? Currency, int Count, decimal Amount)> groups)
    {
        int Count(JobOutcome outcome) => groups.Where(g => g.Outcome == outcome).Sum(g => g.Count);
        var counts = new JobCounts(
            matched,
            groups.Sum(g => g.Count),
            Count(JobOutcome.Cancelled),
            Count(JobOutcome.PartiallyCancelled),
            Count(JobOutcome.Scheduled),
            Count(JobOutcome.Refused),
            groups.Where(g => g.Outcome == JobOutcome.Refused)
                .GroupBy(g => g.Code ?? "unknown", StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Sum(r => r.Count), StringComparer.Ordinal));
        var amounts = groups.Where(g => g.Currency is not null && g.Outcome != JobOutcome.Refused)
            .GroupBy(g => g.Currency!, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(r => r.Amount), StringComparer.Ordinal);
        return new JobSummary(counts, amounts);
    }

    public static JobSummary Parse(string stored) => JsonSerializer.Deserialize<JobSummary>(stored, Json.Options)!;

    public string Serialize() => JsonSerializer.Serialize(this, Json.Options);
}

public sealed record CancellationJobPage(IReadOnlyList<CancellationJobResponse> Data, string? NextCursor);

/// <summary>What the job did (or, dry, would do) to one order.</summary>
/// <param name="Code">For <c>refused</c>: the code a single cancel would have answered.</param>
/// <param name="EventId">The event the change wrote; null for a dry run, a refusal, or while pending.</param>
/// <param name="AmountReleased">In the order's currency; for a scheduled cancellation, what it releases when it applies.</param>
public sealed record JobResultResponse(
    long OrderId,
    JobOutcome Outcome,
    [property: SchemaRef(OpenApiSchemas.ProblemCode)] string? Code,
    Guid? EventId,
    decimal? AmountReleased,
    string? Currency);

public sealed record JobResultPage(IReadOnlyList<JobResultResponse> Data, string? NextCursor);

/// <summary>The <c>data</c> of a <c>cancellation_job.*</c> event: the job as it stood when it finished.</summary>
public sealed record JobEventData(CancellationJobResponse Job);

/// <summary>A <c>cancellation_job.*</c> delivery, as the OpenAPI document describes it (the stored event's data as it is).</summary>
public sealed record JobWebhookMessage(
    Guid Id,
    [property: SchemaRef(OpenApiSchemas.EventType)] string Type,
    DateTimeOffset Timestamp,
    JobEventData Data);

public static class CancellationJobEvents
{
    public const string Completed = "cancellation_job.completed";
    public const string Stopped = "cancellation_job.stopped";

    public static readonly IReadOnlyList<string> All = [Completed, Stopped];
}
