using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Domain;

namespace OrderCancel.Api.CancellationJobs;

/// <summary>
/// A bulk cancellation: which orders (<c>order_ids</c> or <c>filter</c>, one of them), and the cancellation each gets,
/// through the same rules as <c>POST /v1/orders/{id}/cancel</c>.
/// </summary>
public sealed class CreateCancellationJobRequest
{
    /// <summary>1 to 10,000 of your order ids, each once. Ids that are not your orders are reported as refused with order_not_found.</summary>
    public List<long>? OrderIds { get; init; }

    /// <summary>Your orders that match every criterion given, as they stand when the job starts.</summary>
    public CancellationJobFilterRequest? Filter { get; init; }

    /// <example>out_of_stock</example>
    [Required]
    [SchemaRef(OpenApiSchemas.ClientReason)]
    public CancellationReason? Reason { get; init; }

    /// <summary>Up to 1000 characters; required when the reason is <c>other</c>.</summary>
    /// <example>Supplier recall R-2291.</example>
    public string? Note { get; init; }

    /// <summary>A day in each order's time zone. Absent or today: now. Later: each order gets a scheduled cancellation.</summary>
    public DateOnly? EffectiveDate { get; init; }

    /// <summary>
    /// Release shipping on partial cancellations too (a full one always does). Left out: the partner's
    /// <c>shipping_on_partial_cancel</c> decides for each order when its batch runs.
    /// </summary>
    public bool? WaiveShipping { get; init; }

    /// <summary><c>order</c> (default): cancel each order whole. <c>matching_lines</c>: only what remains of <c>filter.sku</c>.</summary>
    public CancellationScope? Scope { get; init; }

    /// <summary>True: change nothing, and report what would happen to each order.</summary>
    public bool? DryRun { get; init; }
}

public sealed class CancellationJobFilterRequest
{
    public OrderStatus? Status { get; init; }

    public OrderKind? Kind { get; init; }

    /// <summary>Orders with a remaining (not cancelled) quantity of this SKU.</summary>
    /// <example>SKU-RECALLED</example>
    public string? Sku { get; init; }

    public string? CustomerRef { get; init; }

    public string? Reference { get; init; }

    /// <summary>Created at or after this instant.</summary>
    public DateTimeOffset? CreatedFrom { get; init; }

    /// <summary>Created before this instant.</summary>
    public DateTimeOffset? CreatedTo { get; init; }

    /// <summary>Key/value pairs the order's metadata must have, each equal (strings, numbers, booleans).</summary>
    public JsonElement? Metadata { get; init; }
}

public sealed class CreateCancellationJobValidator : AbstractValidator<CreateCancellationJobRequest>
{
    public const int MaxOrderIds = 10_000;
    public const int MaxMetadataKeys = 20;

    public CreateCancellationJobValidator(TimeProvider clock)
    {
        RuleFor(r => r.OrderIds)
            .Must((request, ids) => ids is not null || request.Filter is not null).WithMessage("Send order_ids or filter.")
            .Must(ids => ids is null || ids.Count is >= 1 and <= MaxOrderIds).WithMessage($"Must hold 1 to {MaxOrderIds} order ids.")
            .Must(ids => ids is null || ids.All(id => id >= 1)).WithMessage("Must hold order ids (whole numbers from 1).")
            .Must(ids => ids is null || ids.Distinct().Count() == ids.Count).WithMessage("Must not name the same order twice.");
        RuleFor(r => r.Filter)
            .Must((request, filter) => filter is null || request.OrderIds is null).WithMessage("Send either order_ids or filter, not both.")
            .Must(filter => filter is null || HasCriterion(filter)).WithMessage("Must have at least one criterion.");
        RuleFor(r => r.Filter!).ChildRules(filter =>
        {
            filter.RuleFor(f => f.Sku).OptionalText(100);
            filter.RuleFor(f => f.CustomerRef).OptionalText(100);
            filter.RuleFor(f => f.Reference).OptionalText(100);
            filter.RuleFor(f => f.CreatedTo)
                .Must((f, to) => f.CreatedFrom is not { } from || to is not { } end || from < end).WithMessage("Must be after created_from.");
            filter.RuleFor(f => f.Metadata)
                .Must(metadata => metadata is null || IsFlatObject(metadata.Value))
                .WithMessage($"Must be an object of 1 to {MaxMetadataKeys} keys (up to 100 characters) whose values are strings, booleans or numbers within ±7.9e28.");
        }).When(r => r.Filter is not null);
        RuleFor(r => r.Reason).Required().MustBeAClientReason();
        RuleFor(r => r.Note).MaximumLength(CancelOrderValidator.MaxNote).WithMessage($"Must be at most {CancelOrderValidator.MaxNote} characters.");
        RuleFor(r => r.Note).NotEmpty().When(r => r.Reason == CancellationReason.Other).WithMessage("Is required when the reason is other.");
        RuleFor(r => r.EffectiveDate).MustBeSchedulable(clock);
        RuleFor(r => r.Scope)
            .Must((request, scope) => scope != CancellationScope.MatchingLines || request.Filter?.Sku is not null)
            .WithMessage("matching_lines needs filter.sku: the SKU whose lines to cancel.");
    }

    private static bool HasCriterion(CancellationJobFilterRequest filter) =>
        filter.Status is not null || filter.Kind is not null || filter.Sku is not null || filter.CustomerRef is not null
        || filter.Reference is not null || filter.CreatedFrom is not null || filter.CreatedTo is not null || filter.Metadata is not null;

    private static bool IsFlatObject(JsonElement metadata) =>
        metadata.ValueKind == JsonValueKind.Object
        && metadata.EnumerateObject().Count() is >= 1 and <= MaxMetadataKeys
        && metadata.EnumerateObject().All(property => property.Name.Length is >= 1 and <= 100 && property.Value.ValueKind switch
        {
            JsonValueKind.String or JsonValueKind.True or JsonValueKind.False => true,
            JsonValueKind.Number => property.Value.TryGetDecimal(out _),
            _ => false,
        });
}

public sealed class ListCancellationJobsQuery
{
    /// <summary>1 to 100; default 20.</summary>
    [FromQuery(Name = "limit")]
    [Range(1, 100)]
    [DefaultValue(ListOrdersQuery.DefaultLimit)]
    public string? Limit { get; init; }

    /// <summary>The <c>next_cursor</c> of the previous page.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }

    public int PageSize => int.TryParse(Limit, out var limit) ? limit : ListOrdersQuery.DefaultLimit;

    public Guid? After(Cursors cursors, Guid partnerId) => JobCursors.TryDecodeJob(cursors, partnerId.ToString(), Cursor, out var id) ? id : null;
}

public sealed class CancellationJobResultsQuery
{
    /// <summary>Only results with this outcome.</summary>
    [FromQuery(Name = "outcome")]
    [SchemaRef(nameof(JobOutcome))]
    public string? Outcome { get; init; }

    /// <summary>1 to 100; default 20.</summary>
    [FromQuery(Name = "limit")]
    [Range(1, 100)]
    [DefaultValue(ListOrdersQuery.DefaultLimit)]
    public string? Limit { get; init; }

    /// <summary>The <c>next_cursor</c> of the previous page.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }

    public int PageSize => int.TryParse(Limit, out var limit) ? limit : ListOrdersQuery.DefaultLimit;

    public JobOutcome? OutcomeFilter => Json.TryParse<JobOutcome>(Outcome, out var outcome) ? outcome : null;

    public long? After(Cursors cursors, Guid partnerId, Guid jobId) => JobCursors.TryDecodeOrder(cursors, JobCursors.ResultsOwner(partnerId.ToString(), jobId.ToString()), Cursor, out var id) ? id : null;
}

public sealed class ListCancellationJobsQueryValidator : AbstractValidator<ListCancellationJobsQuery>
{
    public ListCancellationJobsQueryValidator(Cursors cursors)
    {
        RuleFor(q => q.Limit).MustBeALimit();
        RuleFor(q => q.Cursor)
            .Must((query, cursor, context) => cursor is null || JobCursors.TryDecodeJob(cursors, Cursors.CallerIn(context), cursor, out _))
            .WithMessage(Cursors.NotOurs);
    }
}

public sealed class CancellationJobResultsQueryValidator : AbstractValidator<CancellationJobResultsQuery>
{
    public CancellationJobResultsQueryValidator(Cursors cursors)
    {
        RuleFor(q => q.Outcome)
            .Must(outcome => outcome is null || Json.TryParse<JobOutcome>(outcome, out _))
            .WithMessage($"Must be one of: {string.Join(", ", Json.Names<JobOutcome>())}.");
        RuleFor(q => q.Limit).MustBeALimit();
        RuleFor(q => q.Cursor)
            .Must((query, cursor, context) => cursor is null || JobCursors.TryDecodeOrder(cursors, JobCursors.ResultsOwnerIn(context), cursor, out _))
            .WithMessage(Cursors.NotOurs);
    }
}

/// <summary>The opaque keyset cursors of the job list (the last job's id) and of a job's results (the last order id).</summary>
public static class JobCursors
{
    private const string Jobs = "cancellation-jobs";
    private const string Results = "cancellation-job-results";

    public static string Encode(Cursors cursors, Guid partnerId, Guid jobId) => cursors.Seal(Jobs, partnerId.ToString(), jobId.ToString("N"));

    public static string Encode(Cursors cursors, Guid partnerId, Guid jobId, long orderId) =>
        cursors.Seal(Results, ResultsOwner(partnerId.ToString(), jobId.ToString()), orderId.ToString(CultureInfo.InvariantCulture));

    /// <summary>A job's results cursor belongs to the partner and the job: it does not open on another job's results.</summary>
    public static string ResultsOwner(string partnerId, string jobId) => $"{partnerId}/{jobId}";

    /// <summary>The owner of a results cursor as a validator sees it: the caller and the job in the route.</summary>
    public static string ResultsOwnerIn(IValidationContext context) =>
        Guid.TryParse(Cursors.RequestIn(context)?.Request.RouteValues["id"]?.ToString(), out var jobId)
            ? ResultsOwner(Cursors.CallerIn(context), jobId.ToString())
            : "";

    public static bool TryDecodeJob(Cursors cursors, string partnerId, string? text, out Guid jobId)
    {
        jobId = default;
        return cursors.TryOpen(Jobs, partnerId, text, out var position) && Guid.TryParseExact(position, "N", out jobId);
    }

    public static bool TryDecodeOrder(Cursors cursors, string owner, string? text, out long orderId)
    {
        orderId = default;
        return cursors.TryOpen(Results, owner, text, out var position)
            && long.TryParse(position, NumberStyles.None, CultureInfo.InvariantCulture, out orderId);
    }
}
