namespace OrderCancel.Domain;

/// <summary>
/// A business rule said no. <see cref="Code"/> is the stable value clients branch on.
/// A non-null <see cref="Field"/> marks a problem with one request property (answered as 422).
/// </summary>
public sealed record DomainError(string Code, string Message, string? Field = null)
{
    public const string ValidationFailed = "validation_failed";

    public bool IsValidation => Field is not null;

    public static DomainError Invalid(string field, string message) => new(ValidationFailed, message, field);
}

/// <summary>The refusals of SPEC §3 and §6.</summary>
public static class OrderErrors
{
    public static readonly DomainError AlreadyPaid =
        new("order_already_paid", "The order has been paid and can no longer be cancelled.");

    public static readonly DomainError AlreadyCancelled =
        new("order_already_cancelled", "The order is already cancelled.");

    public static readonly DomainError NotCancelled =
        new("order_not_cancelled", "Only a cancelled order can be reactivated.");

    public static readonly DomainError NotPayable =
        new("order_not_payable", "Only a pending one-time order can be paid.");

    public static readonly DomainError CancellationAlreadyScheduled =
        new("cancellation_already_scheduled", "The order already has a scheduled cancellation.");

    public static readonly DomainError ReactivationAlreadyScheduled =
        new("reactivation_already_scheduled", "The order already has a scheduled reactivation.");

    public static readonly DomainError NoScheduledCancellation =
        new("no_scheduled_cancellation", "The order has no scheduled cancellation.");

    public static readonly DomainError NoScheduledReactivation =
        new("no_scheduled_reactivation", "The order has no scheduled reactivation.");

    public static DomainError CancellationWindowClosed(DateTimeOffset closedAt) =>
        new("cancellation_window_closed", $"The partner's cancellation window for this order closed at {closedAt:yyyy-MM-dd'T'HH:mm:ss'Z'}.");

    public static DomainError NothingToCancel(string sku) =>
        new("nothing_to_cancel", $"The order has no remaining quantity of SKU '{sku}'.");

    public static DomainError LineNotFound(long lineId) =>
        new("line_not_found", $"The order has no line {lineId}; line ids are the ones its lines carry (GET the order).");

    public static DomainError QuantityExceedsRemaining(long lineId, int requested, int remaining) =>
        new("quantity_exceeds_remaining", $"Line {lineId} has {remaining} left to cancel; {requested} were asked for.");
}

/// <summary>Either the value of a change or the domain error that refused it.</summary>
public readonly struct Result<T>
{
    private readonly T? _value;

    private Result(T? value, DomainError? error)
    {
        _value = value;
        Error = error;
    }

    public DomainError? Error { get; }

    public bool IsSuccess => Error is null;

    public T Value => IsSuccess ? _value! : throw new InvalidOperationException($"The change was refused: {Error!.Code}.");

    public static implicit operator Result<T>(T value) => new(value, null);

    public static implicit operator Result<T>(DomainError error) => new(default, error);
}
