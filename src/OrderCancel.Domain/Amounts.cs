namespace OrderCancel.Domain;

/// <summary>A line's derived amounts at a given active quantity (SPEC §4).</summary>
public readonly record struct LineAmounts(Money Subtotal, Money DiscountApplied, Money Tax, Money Total)
{
    public static LineAmounts For(OrderLine line, int activeQuantity, Currency currency)
    {
        var subtotal = Money.Of(line.UnitPrice * activeQuantity, currency);
        var discount = Money.Of(line.Discount, currency).Prorate(activeQuantity, line.Quantity);
        var tax = (subtotal - discount).Times(line.TaxRate);
        return new LineAmounts(subtotal, discount, tax, subtotal - discount + tax);
    }
}

/// <summary>An order's derived amounts: sums over its lines plus shipping while it is charged.</summary>
public readonly record struct OrderAmounts(
    Money Subtotal,
    Money Discount,
    Money Tax,
    Money Shipping,
    Money Total,
    Money AmountPaid,
    Money AmountDue);
