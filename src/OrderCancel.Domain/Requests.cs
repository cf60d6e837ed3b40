namespace OrderCancel.Domain;

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
    string Metadata);

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
public sealed record CancelRequest(
    CancellationReason Reason,
    string? Note,
    DateOnly? EffectiveDate,
    IReadOnlyList<CancelItem> Items,
    bool WaiveShipping);

public sealed record ReactivateRequest(DateOnly? EffectiveDate, string? Note);

public sealed record PaymentRequest(string Method, decimal Amount, string? Reference);

/// <summary>A change that was made: the event it wrote and, for cancellations, what it releases.</summary>
/// <param name="Scheduled">True when it was only scheduled for a later day.</param>
public sealed record OrderChange(OrderEvent Event, bool Scheduled = false, decimal AmountReleased = 0m);
