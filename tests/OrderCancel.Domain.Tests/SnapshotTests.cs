using static OrderCancel.Domain.Tests.Orders;

namespace OrderCancel.Domain.Tests;

/// <summary>Persistence stores an order as a snapshot and restores it; the restored order must behave as the original.</summary>
public sealed class SnapshotTests
{
    [Fact]
    public void A_restored_cancelled_order_reactivates_to_what_it_was()
    {
        var original = Create(lines: [Line(2, 10m), Line(3, 5m)]);
        Assert.True(original.Cancel(Partial(2, 1), Now, Actor, Defaults).IsSuccess);
        Assert.True(original.Cancel(Full(), Now, Actor, Defaults).IsSuccess);

        var restored = Order.FromSnapshot(SnapshotOf(original));
        var result = restored.Reactivate(new ReactivateRequest(null, null), Now.AddHours(1), Actor);

        Assert.True(result.IsSuccess);
        Assert.Equal(OrderStatus.Pending, restored.Status);
        Assert.Equal([0, 1], restored.Lines.Select(line => line.CancelledQuantity));
        Assert.Equal(original.Version + 1, restored.Version);
        Assert.Equal(35m, restored.Amounts.AmountDue.Amount); // 2 × 10 + 2 × 5 + 5 shipping, released by the full cancel
        Assert.Equal(OrderEventType.OrderReactivated, Assert.Single(restored.PendingEvents).Type);
    }

    [Fact]
    public void A_restored_order_is_due_when_its_scheduled_change_is()
    {
        var original = Create();
        Assert.True(original.Cancel(Full(Today.AddDays(3)), Now, Actor, Defaults).IsSuccess);

        var restored = Order.FromSnapshot(SnapshotOf(original));

        Assert.Equal(original.NextChangeDueAt, restored.NextChangeDueAt);
        Assert.Empty(restored.PendingEvents);
        Assert.Equal(OrderEventType.OrderCancelled, restored.ApplyDueChange(original.NextChangeDueAt!.Value, Now)?.Event.Type);
        Assert.Equal(OrderStatus.Cancelled, restored.Status);
    }

    private static OrderSnapshot SnapshotOf(Order order) => new()
    {
        Id = order.Id,
        PartnerId = order.PartnerId,
        Kind = order.Kind,
        Status = order.Status,
        Reference = order.Reference,
        Channel = order.Channel,
        CurrencyCode = order.CurrencyCode,
        TimeZone = order.TimeZone,
        BillingPeriod = order.BillingPeriod,
        Customer = order.Customer,
        Lines = [.. order.Lines.Select(l => new LineSnapshot(l.Id, l.Sku, l.Name, l.Quantity, l.CancelledQuantity, l.UnitPrice, l.Discount, l.TaxRate, l.Metadata))],
        ShippingCost = order.ShippingCost,
        ShippingWaived = order.ShippingWaived,
        AmountPaid = order.AmountPaid,
        Payment = order.Payment,
        Metadata = order.Metadata,
        ScheduledCancellation = order.ScheduledCancellation,
        ScheduledReactivation = order.ScheduledReactivation,
        Cancellations = [.. order.Cancellations],
        CancelledAt = order.CancelledAt,
        ReactivatedAt = order.ReactivatedAt,
        CreatedAt = order.CreatedAt,
        UpdatedAt = order.UpdatedAt,
        Version = order.Version,
    };
}
