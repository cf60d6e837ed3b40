namespace OrderCancel.Domain;

public sealed class OrderLine
{
    internal OrderLine(long id, NewLine spec)
    {
        Id = id;
        Sku = spec.Sku;
        Name = spec.Name;
        Quantity = spec.Quantity;
        UnitPrice = spec.UnitPrice;
        Discount = spec.Discount;
        TaxRate = spec.TaxRate;
        Metadata = spec.Metadata;
    }

    internal OrderLine(LineSnapshot stored)
    {
        Id = stored.Id;
        Sku = stored.Sku;
        Name = stored.Name;
        Quantity = stored.Quantity;
        CancelledQuantity = stored.CancelledQuantity;
        UnitPrice = stored.UnitPrice;
        Discount = stored.Discount;
        TaxRate = stored.TaxRate;
        Metadata = stored.Metadata;
    }

    private OrderLine()
    {
        Sku = Name = Metadata = null!;
    }

    /// <summary>Unique across all orders (like Shopify's line item ids), so a line id of another order is never this order's.</summary>
    public long Id { get; private set; }

    public string Sku { get; private set; }

    public string Name { get; private set; }

    public int Quantity { get; private set; }

    public int CancelledQuantity { get; private set; }

    public decimal UnitPrice { get; private set; }

    /// <summary>For the whole line at full quantity; prorated over what stays active.</summary>
    public decimal Discount { get; private set; }

    public decimal TaxRate { get; private set; }

    public string Metadata { get; private set; }

    public int ActiveQuantity => Quantity - CancelledQuantity;

    public LineAmounts AmountsIn(Currency currency) => LineAmounts.For(this, ActiveQuantity, currency);

    internal void Cancel(int quantity)
    {
        if (quantity < 1 || quantity > ActiveQuantity)
        {
            throw new InvalidOperationException($"Cannot cancel {quantity} of line {Id}; {ActiveQuantity} active.");
        }

        CancelledQuantity += quantity;
    }

    internal void Restore(int quantity)
    {
        if (quantity < 1 || quantity > CancelledQuantity)
        {
            throw new InvalidOperationException($"Cannot restore {quantity} of line {Id}; {CancelledQuantity} cancelled.");
        }

        CancelledQuantity -= quantity;
    }
}
