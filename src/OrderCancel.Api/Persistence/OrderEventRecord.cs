using OrderCancel.Api.Orders;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence;

/// <summary>A stored event (SPEC §2 "Event"): written in the same transaction as the change it describes.</summary>
public sealed class OrderEventRecord
{
    public Guid Id { get; init; }

    /// <summary>Commit-independent order of writing, for reading an order's events oldest first.</summary>
    public long Sequence { get; init; }

    public Guid PartnerId { get; init; }

    /// <summary>The order it happened to; null for an event about something else (a cancellation job).</summary>
    public long? OrderId { get; init; }

    public required string Type { get; init; }

    public DateTimeOffset OccurredAt { get; init; }

    public required string Actor { get; init; }

    /// <summary><c>{"order": …}</c> exactly as webhooks carry it.</summary>
    public required string Data { get; init; }

    /// <summary>One record per event the orders recorded since they were loaded; the orders forget them.</summary>
    public static List<OrderEventRecord> TakeFrom(IEnumerable<Order> orders)
    {
        var records = new List<OrderEventRecord>();
        foreach (var order in orders)
        {
            foreach (var recorded in order.PendingEvents)
            {
                records.Add(new OrderEventRecord
                {
                    Id = recorded.Id,
                    PartnerId = order.PartnerId,
                    OrderId = order.Id,
                    Type = recorded.Name,
                    OccurredAt = recorded.OccurredAt,
                    Actor = recorded.Actor,
                    Data = EventData.Serialize(order, recorded),
                });
            }

            order.ClearPendingEvents();
        }

        return records;
    }
}
