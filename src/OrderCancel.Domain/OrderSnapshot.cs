namespace OrderCancel.Domain;

/// <summary>
/// An order exactly as persistence keeps it; <see cref="Order.FromSnapshot"/> turns it back into the aggregate.
/// What the order derives (amounts, when its next scheduled change is due) is not part of it.
/// </summary>
public sealed record OrderSnapshot
{
    public required long Id { get; init; }

    public required Guid PartnerId { get; init; }

    public required OrderKind Kind { get; init; }

    public required OrderStatus Status { get; init; }

    public string? Reference { get; init; }

    public required string Channel { get; init; }

    public required string CurrencyCode { get; init; }

    public required string TimeZone { get; init; }

    public BillingPeriod? BillingPeriod { get; init; }

    public required Customer Customer { get; init; }

    /// <summary>By id.</summary>
    public required IReadOnlyList<LineSnapshot> Lines { get; init; }

    public required decimal ShippingCost { get; init; }

    public required bool ShippingWaived { get; init; }

    public required decimal AmountPaid { get; init; }

    public Payment? Payment { get; init; }

    public required string Metadata { get; init; }

    public ScheduledCancellation? ScheduledCancellation { get; init; }

    public ScheduledReactivation? ScheduledReactivation { get; init; }

    /// <summary>Oldest first.</summary>
    public required IReadOnlyList<Cancellation> Cancellations { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public DateTimeOffset? CancelledAt { get; init; }

    public DateTimeOffset? ReactivatedAt { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public required int Version { get; init; }
}

public sealed record LineSnapshot(
    long Id,
    string Sku,
    string Name,
    int Quantity,
    int CancelledQuantity,
    decimal UnitPrice,
    decimal Discount,
    decimal TaxRate,
    string Metadata);
