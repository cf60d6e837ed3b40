namespace OrderCancel.Domain;

public sealed record Customer(string Ref, string Email, string FirstName, string LastName, string? Phone);

public sealed record Payment(string Method, DateTimeOffset PaidAt, string? Reference);

/// <summary>One line's part of a cancellation request; <see cref="Reason"/> overrides the request's.</summary>
public sealed record CancelItem(long LineId, int Quantity, CancellationReason? Reason = null);

/// <summary>What a cancellation actually took from one line.</summary>
public sealed record CancelledItem(long LineId, int Quantity, CancellationReason Reason);

/// <summary>An applied cancellation, kept on the order oldest first.</summary>
public sealed record Cancellation
{
    public required Guid EventId { get; init; }

    public required CancellationType Type { get; init; }

    /// <summary>What it actually took, line by line (for a full cancellation too).</summary>
    public required List<CancelledItem> Items { get; init; }

    public required CancellationReason Reason { get; init; }

    public string? Note { get; init; }

    /// <summary>The day it took effect, in the order's time zone.</summary>
    public required DateOnly EffectiveDate { get; init; }

    public required DateTimeOffset AppliedAt { get; init; }

    /// <summary>The drop in the order's total it caused.</summary>
    public required decimal AmountReleased { get; init; }

    /// <summary>True when this cancellation released shipping.</summary>
    public required bool ShippingWaived { get; init; }

    public required bool Test { get; init; }

    public required string Actor { get; init; }

    /// <summary>The status before it applied, so a reactivation can return to it.</summary>
    public required OrderStatus PreviousStatus { get; init; }
}

/// <summary>A cancellation waiting for its effective date.</summary>
public sealed record ScheduledCancellation
{
    /// <summary>The event that scheduled it.</summary>
    public required Guid EventId { get; init; }

    public required DateOnly EffectiveDate { get; init; }

    public required CancellationReason Reason { get; init; }

    public string? Note { get; init; }

    /// <summary>Empty means the whole order.</summary>
    public required List<CancelItem> Items { get; init; }

    public required bool WaiveShipping { get; init; }

    /// <summary>00:00 of the effective date in the order's time zone.</summary>
    public required DateTimeOffset DueAt { get; init; }
}

public sealed record ScheduledReactivation(Guid EventId, DateOnly EffectiveDate, string? Note, DateTimeOffset DueAt);
