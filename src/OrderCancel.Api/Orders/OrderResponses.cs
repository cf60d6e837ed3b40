using System.Text.Json;
using System.Text.Json.Serialization;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

/// <summary>An order as partners, stored events and webhooks see it (SPEC §2).</summary>
public sealed record OrderResponse(
    long Id,
    OrderKind Kind,
    OrderStatus Status,
    string? Reference,
    string Channel,
    string Currency,
    string TimeZone,
    BillingPeriod? BillingPeriod,
    CustomerResponse Customer,
    IReadOnlyList<LineResponse> Lines,
    decimal ShippingCost,
    bool ShippingWaived,
    decimal Subtotal,
    decimal Discount,
    decimal Tax,
    decimal Total,
    decimal AmountPaid,
    decimal AmountDue,
    PaymentResponse? Payment,
    RawJson Metadata,
    ScheduledCancellationResponse? ScheduledCancellation,
    ScheduledReactivationResponse? ScheduledReactivation,
    DateTimeOffset? ExpiresAt,
    IReadOnlyList<CancellationResponse> Cancellations,
    DateTimeOffset? CancelledAt,
    DateTimeOffset? ReactivatedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int Version)
{
    public static OrderResponse From(Order order) => From(order, unwritten: null);

    /// <summary>
    /// The order as a preview shows it, as it would stand after a change that was not saved: the events that change
    /// recorded do not exist, so nothing names them (their ids are null).
    /// </summary>
    public static OrderResponse Unsaved(Order order) => From(order, [.. order.PendingEvents.Select(e => e.Id)]);

    private static OrderResponse From(Order order, HashSet<Guid>? unwritten)
    {
        Guid? Written(Guid eventId) => unwritten is not null && unwritten.Contains(eventId) ? null : eventId;
        var currency = order.Currency;
        var amounts = order.Amounts;
        return new OrderResponse(
            order.Id,
            order.Kind,
            order.Status,
            order.Reference,
            order.Channel,
            order.CurrencyCode,
            order.TimeZone,
            order.BillingPeriod,
            new CustomerResponse(order.Customer.Ref, order.Customer.Email, order.Customer.FirstName, order.Customer.LastName, order.Customer.Phone),
            // By id: the list loads lines through EF Core, which leaves the last included collection unordered (efcore#19828).
            [.. order.Lines.OrderBy(line => line.Id).Select(line => LineResponse.From(line, currency))],
            order.ShippingCost,
            order.ShippingWaived,
            amounts.Subtotal.Amount,
            amounts.Discount.Amount,
            amounts.Tax.Amount,
            amounts.Total.Amount,
            amounts.AmountPaid.Amount,
            amounts.AmountDue.Amount,
            order.Payment is { } payment ? new PaymentResponse(payment.Method, payment.PaidAt, payment.Reference) : null,
            new RawJson(order.Metadata),
            order.ScheduledCancellation is { } cancellation ? ScheduledCancellationResponse.From(cancellation) with { EventId = Written(cancellation.EventId) } : null,
            order.ScheduledReactivation is { } reactivation
                ? new ScheduledReactivationResponse(Written(reactivation.EventId), reactivation.EffectiveDate, reactivation.Note)
                : null,
            order.ExpiresAt,
            [.. order.Cancellations.Select(c => CancellationResponse.From(c) with { EventId = Written(c.EventId) })],
            order.CancelledAt,
            order.ReactivatedAt,
            order.CreatedAt,
            order.UpdatedAt,
            order.Version);
    }
}

public sealed record CustomerResponse(string Ref, string Email, string FirstName, string LastName, string? Phone);

public sealed record LineResponse(
    long Id,
    string Sku,
    string Name,
    int Quantity,
    int CancelledQuantity,
    decimal UnitPrice,
    decimal Discount,
    decimal TaxRate,
    decimal Subtotal,
    decimal DiscountApplied,
    decimal Tax,
    decimal Total,
    RawJson Metadata)
{
    public static LineResponse From(OrderLine line, Currency currency)
    {
        var amounts = line.AmountsIn(currency);
        return new LineResponse(
            line.Id,
            line.Sku,
            line.Name,
            line.Quantity,
            line.CancelledQuantity,
            line.UnitPrice,
            line.Discount,
            line.TaxRate,
            amounts.Subtotal.Amount,
            amounts.DiscountApplied.Amount,
            amounts.Tax.Amount,
            amounts.Total.Amount,
            new RawJson(line.Metadata));
    }
}

public sealed record PaymentResponse(string Method, DateTimeOffset PaidAt, string? Reference);

public sealed record CancelItemResponse(long LineId, int Quantity, CancellationReason? Reason);

/// <param name="EventId">The event that scheduled it; null only in a preview, where that event does not exist.</param>
public sealed record ScheduledCancellationResponse(
    Guid? EventId,
    DateOnly EffectiveDate,
    CancellationReason Reason,
    string? Note,
    IReadOnlyList<CancelItemResponse>? Items,
    bool WaiveShipping)
{
    public static ScheduledCancellationResponse From(ScheduledCancellation scheduled) => new(
        scheduled.EventId,
        scheduled.EffectiveDate,
        scheduled.Reason,
        scheduled.Note,
        scheduled.Items.Count == 0 ? null : [.. scheduled.Items.Select(i => new CancelItemResponse(i.LineId, i.Quantity, i.Reason))],
        scheduled.WaiveShipping);
}

/// <param name="EventId">The event that scheduled it.</param>
public sealed record ScheduledReactivationResponse(Guid? EventId, DateOnly EffectiveDate, string? Note);

/// <param name="EventId">The event that applied it; null only in a preview, where that event does not exist.</param>
public sealed record CancellationResponse(
    Guid? EventId,
    CancellationType Type,
    IReadOnlyList<CancelItemResponse> Items,
    CancellationReason Reason,
    string? Note,
    DateOnly EffectiveDate,
    DateTimeOffset AppliedAt,
    decimal AmountReleased,
    bool ShippingWaived,
    bool Test,
    string Actor)
{
    public static CancellationResponse From(Cancellation cancellation) => new(
        cancellation.EventId,
        cancellation.Type,
        [.. cancellation.Items.Select(i => new CancelItemResponse(i.LineId, i.Quantity, i.Reason))],
        cancellation.Reason,
        cancellation.Note,
        cancellation.EffectiveDate,
        cancellation.AppliedAt,
        cancellation.AmountReleased,
        cancellation.ShippingWaived,
        cancellation.Test,
        cancellation.Actor);
}

/// <summary>
/// What a mutation answers: the event it wrote, the order's id and status, and the order as it now stands, which a
/// <c>Prefer: return=minimal</c> answer leaves out.
/// </summary>
/// <param name="Order">Absent under <c>Prefer: return=minimal</c>.</param>
public sealed record OrderChangeResponse(
    Guid EventId,
    long OrderId,
    OrderStatus Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] OrderResponse? Order)
{
    public static OrderChangeResponse Of(Guid eventId, Order order, bool minimal) =>
        new(eventId, order.Id, order.Status, minimal ? null : OrderResponse.From(order));
}

/// <summary>What a creation answers under <c>Prefer: return=minimal</c>: the event it wrote, the new order's id and status.</summary>
public sealed record MinimalChangeResponse(Guid EventId, long OrderId, OrderStatus Status);

public sealed record OrderPage(IReadOnlyList<OrderResponse> Data, string? NextCursor);

/// <param name="Actor"><c>api_key:&lt;key id&gt;</c>, <c>scheduler</c> or <c>admin</c>.</param>
/// <param name="Data">The order as it stood right after the change, exactly as webhooks carry it.</param>
public sealed record EventResponse(
    Guid Id,
    [property: SchemaRef(OpenApiSchemas.EventType)] string Type,
    long OrderId,
    DateTimeOffset OccurredAt,
    string Actor,
    [property: SchemaRef(nameof(EventData))] RawJson Data);

public sealed record EventList(IReadOnlyList<EventResponse> Data);

/// <summary>The <c>data</c> of an event: the order after the change, and for a failed scheduled cancellation the reason code.</summary>
/// <param name="Code">Only in <c>order.scheduled_cancellation_failed</c>: the state rule that refused the change.</param>
/// <param name="JobId">Only when a bulk cancellation job made the change (actor <c>job:&lt;id&gt;</c>): that job's id.</param>
public sealed record EventData(
    OrderResponse Order,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), SchemaRef(OpenApiSchemas.ProblemCode)] string? Code,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? JobId = null)
{
    public static string Serialize(Order order, OrderEvent recorded) =>
        JsonSerializer.Serialize(new EventData(OrderResponse.From(order), recorded.FailureCode, Actors.JobOf(recorded.Actor)), Json.Options);
}
