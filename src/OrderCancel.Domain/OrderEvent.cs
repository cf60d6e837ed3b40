namespace OrderCancel.Domain;

public enum OrderEventType
{
    OrderCreated,
    OrderPaid,
    OrderCancelled,
    OrderPartiallyCancelled,
    OrderCancellationScheduled,
    OrderCancellationUnscheduled,
    OrderScheduledCancellationFailed,
    OrderReactivated,
    OrderReactivationScheduled,
    OrderReactivationUnscheduled,
}

/// <summary>What happened to an order; recorded by the change that caused it.</summary>
/// <param name="FailureCode">For <see cref="OrderEventType.OrderScheduledCancellationFailed"/>: why the rules said no.</param>
public sealed record OrderEvent(
    Guid Id,
    OrderEventType Type,
    DateTimeOffset OccurredAt,
    string Actor,
    string? FailureCode = null)
{
    private static readonly string[] WireNames =
    [
        "order.created",
        "order.paid",
        "order.cancelled",
        "order.partially_cancelled",
        "order.cancellation_scheduled",
        "order.cancellation_unscheduled",
        "order.scheduled_cancellation_failed",
        "order.reactivated",
        "order.reactivation_scheduled",
        "order.reactivation_unscheduled",
    ];

    /// <summary>The event type as partners see it, e.g. <c>order.cancelled</c>.</summary>
    public string Name => NameOf(Type);

    public static string NameOf(OrderEventType type) => WireNames[(int)type];

    public static IReadOnlyList<string> AllNames => WireNames;
}

/// <summary>Who caused a change, as events record it.</summary>
public static class Actors
{
    public const string Scheduler = "scheduler";
    public const string Admin = "admin";

    public static string ApiKey(Guid keyId) => $"api_key:{keyId}";

    /// <summary>A bulk cancellation job's changes (SPEC §10).</summary>
    public static string Job(Guid jobId) => $"{JobPrefix}{jobId}";

    /// <summary>The job an actor names, or null when it is not a job.</summary>
    public static Guid? JobOf(string actor) =>
        actor.StartsWith(JobPrefix, StringComparison.Ordinal) && Guid.TryParse(actor.AsSpan(JobPrefix.Length), out var id) ? id : null;

    private const string JobPrefix = "job:";
}
