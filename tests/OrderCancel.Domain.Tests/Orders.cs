namespace OrderCancel.Domain.Tests;

/// <summary>Builds orders for the domain tests; each test makes its own.</summary>
internal static class Orders
{
    public static readonly DateTimeOffset Now = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);
    public const string Actor = "api_key:test";

    /// <summary>The settings of a partner that changed none: SPEC §3 exactly.</summary>
    public static readonly PartnerPolicy Defaults = PartnerPolicy.Default;

    public static NewLine Line(int quantity, decimal unitPrice, decimal discount = 0m, decimal taxRate = 0m) =>
        new("SKU", "Item", quantity, unitPrice, discount, taxRate, "{}");

    public static Order Create(
        OrderKind kind = OrderKind.OneTime,
        string currency = "EUR",
        decimal shipping = 5m,
        string timeZone = "UTC",
        PartnerPolicy? policy = null,
        ExpiryOverride? expiry = null,
        params NewLine[] lines)
    {
        NewLine[] specLines = lines.Length > 0 ? lines : [Line(2, 10m), Line(3, 5m)];
        return Order.Create(
            Guid.NewGuid(),
            new NewOrder(
                kind,
                Currency.Of(currency),
                timeZone,
                kind == OrderKind.Recurring ? BillingPeriod.Monthly : null,
                null,
                "api",
                new Customer("c", "a@b.co", "A", "B", null),
                specLines,
                shipping,
                "{}",
                expiry),
            [.. Enumerable.Range(1, specLines.Length).Select(i => (long)i)],
            Now,
            Actor,
            policy ?? Defaults);
    }

    /// <summary>An order in the given status, reached through the aggregate's own methods.</summary>
    public static Order InStatus(OrderStatus status)
    {
        var order = Create(status == OrderStatus.Active ? OrderKind.Recurring : OrderKind.OneTime);
        switch (status)
        {
            case OrderStatus.Paid:
                Assert.True(order.Pay(new PaymentRequest("card", order.Amounts.AmountDue.Amount, null), Now, Actor).IsSuccess);
                break;
            case OrderStatus.Cancelled:
                Assert.True(order.Cancel(Full(), Now, Actor, Defaults).IsSuccess);
                break;
            default:
                break;
        }

        order.ClearPendingEvents();
        return order;
    }

    public static CancelRequest Full(DateOnly? effectiveDate = null, bool? waiveShipping = null) =>
        new(CancellationReason.CustomerRequest, null, effectiveDate, [], waiveShipping);

    public static CancelRequest Partial(int lineId, int quantity, DateOnly? effectiveDate = null, bool? waiveShipping = null) =>
        new(CancellationReason.OutOfStock, null, effectiveDate, [new CancelItem(lineId, quantity)], waiveShipping);

    public static DateOnly Today => DateOnly.FromDateTime(Now.UtcDateTime);
}
