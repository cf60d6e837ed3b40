namespace OrderCancel.Domain;

/// <param name="Expiry">The order's own expiry instead of the partner's <c>unpaid_order_ttl</c>; null: the partner's.</param>
public sealed record NewOrder(
    OrderKind Kind,
    Currency Currency,
    string TimeZone,
    BillingPeriod? BillingPeriod,
    string? Reference,
    string Channel,
    Customer Customer,
    IReadOnlyList<NewLine> Lines,
    decimal ShippingCost,
    string Metadata,
    ExpiryOverride? Expiry = null);

/// <summary>An expiry given at creation: the instant a still-unpaid order is cancelled, or null for never.</summary>
public sealed record ExpiryOverride(DateTimeOffset? At);

/// <param name="Metadata">Free-form JSON text, kept as given.</param>
public sealed record NewLine(
    string Sku,
    string Name,
    int Quantity,
    decimal UnitPrice,
    decimal Discount,
    decimal TaxRate,
    string Metadata);

/// <param name="Items">Empty cancels everything that remains.</param>
/// <param name="WaiveShipping">Null when the request does not say: the partner's shipping rule decides (SPEC §11).</param>
public sealed record CancelRequest(
    CancellationReason Reason,
    string? Note,
    DateOnly? EffectiveDate,
    IReadOnlyList<CancelItem> Items,
    bool? WaiveShipping);

public sealed record ReactivateRequest(DateOnly? EffectiveDate, string? Note);

public sealed record PaymentRequest(string Method, decimal Amount, string? Reference);

/// <summary>A change that was made: the event it wrote and, for cancellations, what it releases.</summary>
/// <param name="Scheduled">True when it was only scheduled for a later day.</param>
public sealed record OrderChange(OrderEvent Event, bool Scheduled = false, decimal AmountReleased = 0m);
