using System.ComponentModel.DataAnnotations;
using FluentValidation;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

/// <summary>Cancels an order in full (no <c>items</c>) or in part, now or on a future <c>effective_date</c>.</summary>
public sealed class CancelOrderRequest
{
    /// <example>customer_request</example>
    [Required]
    [SchemaRef(OpenApiSchemas.ClientReason)]
    public CancellationReason? Reason { get; init; }

    /// <summary>Up to 1000 characters; required when a reason is <c>other</c>.</summary>
    /// <example>Customer changed their mind.</example>
    public string? Note { get; init; }

    /// <summary>A day in the order's time zone. Absent or today: now (200). Later: scheduled (202).</summary>
    /// <example>2030-06-30</example>
    public DateOnly? EffectiveDate { get; init; }

    /// <summary>Lines and quantities to cancel; leave out to cancel everything that remains. Not empty.</summary>
    public List<CancelItemRequest>? Items { get; init; }

    /// <summary>
    /// Release shipping on a partial cancellation too (a full one always does). Left out: the partner's
    /// <c>shipping_on_partial_cancel</c> decides (<c>keep</c> by default: not released); under
    /// <c>release_when_empty</c> a partial cancellation never releases it.
    /// </summary>
    public bool? WaiveShipping { get; init; }
}

public sealed class CancelItemRequest
{
    /// <summary>One of the order's <c>lines[].id</c>.</summary>
    [Required]
    public long? LineId { get; init; }

    /// <summary>1 up to what remains on the line.</summary>
    /// <example>1</example>
    [Required]
    public int? Quantity { get; init; }

    /// <summary>Overrides the request's reason for this line.</summary>
    [SchemaRef(OpenApiSchemas.ClientReason)]
    public CancellationReason? Reason { get; init; }
}

/// <summary>Reactivates a cancelled order now (200) or on a future <c>effective_date</c> (202).</summary>
public sealed class ReactivateOrderRequest : IOptionalBody
{
    /// <example>2030-06-30</example>
    public DateOnly? EffectiveDate { get; init; }

    /// <example>Customer came back.</example>
    public string? Note { get; init; }
}

public sealed class CancelOrderValidator : AbstractValidator<CancelOrderRequest>
{
    public const int MaxNote = 1000;

    public CancelOrderValidator(TimeProvider clock)
    {
        RuleFor(r => r.Reason).Required().MustBeAClientReason();
        RuleFor(r => r.Note).MaximumLength(MaxNote).WithMessage($"Must be at most {MaxNote} characters.");
        RuleFor(r => r.Note).NotEmpty().When(MentionsOther).WithMessage("Is required when a reason is other.");
        RuleFor(r => r.EffectiveDate).MustBeSchedulable(clock);
        RuleFor(r => r.Items).Must(items => items is null || items.Count > 0)
            .WithMessage("Must name at least one line; leave it out to cancel the whole order.");
        RuleForEach(r => r.Items).Cascade(CascadeMode.Continue).NotNull().WithMessage("Must be an object.")
            .ChildRules(item =>
            {
                item.RuleFor(i => i.LineId).Required().GreaterThanOrEqualTo(1).WithMessage("Must be a line id.");
                item.RuleFor(i => i.Quantity).Required().GreaterThanOrEqualTo(1).WithMessage("Must be at least 1.");
                item.RuleFor(i => i.Reason).MustBeAClientReason();
            });
        RuleFor(r => r.Items)
            .Must(items => items is null || items.Where(i => i?.LineId is not null).GroupBy(i => i!.LineId).All(g => g.Count() == 1))
            .WithMessage("Must not name the same line twice.");
    }

    private static bool MentionsOther(CancelOrderRequest request) =>
        request.Reason == CancellationReason.Other
        || (request.Items?.Any(item => item?.Reason == CancellationReason.Other) ?? false);
}

public sealed class ReactivateOrderValidator : AbstractValidator<ReactivateOrderRequest>
{
    public ReactivateOrderValidator(TimeProvider clock)
    {
        RuleFor(r => r.EffectiveDate).MustBeSchedulable(clock);
        RuleFor(r => r.Note).MaximumLength(CancelOrderValidator.MaxNote).WithMessage($"Must be at most {CancelOrderValidator.MaxNote} characters.");
    }
}

public static class EffectiveDateRules
{
    /// <summary>
    /// Refuses dates that are out of range in every time zone (UTC−12 to UTC+14), before the order is
    /// looked up; the order's own zone decides the days in between (the domain's check).
    /// </summary>
    public static IRuleBuilderOptions<T, DateOnly?> MustBeSchedulable<T>(this IRuleBuilder<T, DateOnly?> rule, TimeProvider clock) =>
        rule.Must(date => date is null || date >= DateOnly.FromDateTime(clock.GetUtcNow().AddHours(-12).UtcDateTime))
            .WithMessage("Must not be in the past.")
            .Must(date => date is null || date <= DateOnly.FromDateTime(clock.GetUtcNow().AddHours(14).UtcDateTime).AddYears(Order.MaxYearsAhead))
            .WithMessage($"Must be within {Order.MaxYearsAhead} years of today.");
}
