using System.Globalization;

namespace OrderCancel.Domain.Tests;

/// <summary>SPEC §4 amounts and §1 rounding: to the currency's minor unit, half away from zero.</summary>
public sealed class AmountTests
{
    [Theory]
    [InlineData("EUR", 2)]
    [InlineData("USD", 2)]
    [InlineData("JPY", 0)]
    [InlineData("KRW", 0)]
    [InlineData("KWD", 3)]
    [InlineData("BHD", 3)]
    [InlineData("JOD", 3)]
    [InlineData("OMR", 3)]
    [InlineData("TND", 3)]
    public void Currencies_know_their_minor_unit(string code, int minorUnit) =>
        Assert.Equal(minorUnit, Currency.Of(code).MinorUnit);

    [Theory]
    [InlineData("EUR", "0.125", "0.13")]
    [InlineData("EUR", "-0.125", "-0.13")]
    [InlineData("EUR", "0.124", "0.12")]
    [InlineData("JPY", "2.5", "3")]
    [InlineData("JPY", "3.5", "4")]
    [InlineData("KWD", "1.0005", "1.001")]
    public void Rounding_is_half_away_from_zero(string code, string exact, string rounded) =>
        Assert.Equal(decimal.Parse(rounded, CultureInfo.InvariantCulture), Money.Of(decimal.Parse(exact, CultureInfo.InvariantCulture), Currency.Of(code)).Amount);

    [Theory]
    [InlineData("JPY", "100.5", false)]
    [InlineData("JPY", "100", true)]
    [InlineData("EUR", "1.001", false)]
    [InlineData("KWD", "1.001", true)]
    public void An_amount_fits_a_currency_only_with_its_decimals(string code, string amount, bool fits) =>
        Assert.Equal(fits, Currency.Of(code).Fits(decimal.Parse(amount, CultureInfo.InvariantCulture)));

    [Fact]
    public void Line_amounts_prorate_the_discount_over_the_active_quantity_and_round_tax()
    {
        var order = Orders.Create(lines: [Orders.Line(3, 10m, discount: 1m, taxRate: 0.2m)]);

        Assert.True(order.Cancel(Orders.Partial(1, 1), Orders.Now, Orders.Actor, Orders.Defaults).IsSuccess);

        var line = order.Lines[0].AmountsIn(order.Currency);
        Assert.Equal(20m, line.Subtotal.Amount);
        Assert.Equal(0.67m, line.DiscountApplied.Amount); // 1 × 2/3 = 0.666… → 0.67
        Assert.Equal(3.87m, line.Tax.Amount); // (20 - 0.67) × 0.2 = 3.866 → 3.87
        Assert.Equal(23.20m, line.Total.Amount);
    }

    [Fact]
    public void Tax_rounds_half_away_from_zero()
    {
        var order = Orders.Create(shipping: 0m, lines: [Orders.Line(1, 0.25m, taxRate: 0.1m)]);

        Assert.Equal(0.03m, order.Amounts.Tax.Amount); // 0.025 → 0.03, not banker's 0.02
    }

    [Fact]
    public void JPY_amounts_have_no_decimals()
    {
        var order = Orders.Create(currency: "JPY", shipping: 500m, lines: [Orders.Line(3, 333m, discount: 100m, taxRate: 0.08m)]);

        Assert.True(order.Cancel(Orders.Partial(1, 1), Orders.Now, Orders.Actor, Orders.Defaults).IsSuccess);

        var amounts = order.Amounts;
        Assert.Equal(666m, amounts.Subtotal.Amount);
        Assert.Equal(67m, amounts.Discount.Amount); // 100 × 2/3 = 66.67 → 67
        Assert.Equal(48m, amounts.Tax.Amount); // (666 - 67) × 0.08 = 47.92 → 48
        Assert.Equal(1147m, amounts.Total.Amount); // 599 + 48 + 500
    }

    [Fact]
    public void KWD_amounts_have_three_decimals()
    {
        var order = Orders.Create(currency: "KWD", shipping: 1.5m, lines: [Orders.Line(2, 1.255m, taxRate: 0.05m)]);

        var amounts = order.Amounts;
        Assert.Equal(2.510m, amounts.Subtotal.Amount);
        Assert.Equal(0.126m, amounts.Tax.Amount); // 0.1255 → 0.126
        Assert.Equal(4.136m, amounts.Total.Amount);
    }

    [Fact]
    public void Shipping_counts_until_it_is_waived_or_the_order_is_cancelled()
    {
        var order = Orders.Create(shipping: 5m);
        Assert.Equal(40m, order.Amounts.Total.Amount); // 2×10 + 3×5 + 5

        Assert.True(order.Cancel(Orders.Full(), Orders.Now, Orders.Actor, Orders.Defaults).IsSuccess);

        Assert.Equal(0m, order.Amounts.Total.Amount);
        Assert.Equal(0m, order.Amounts.AmountDue.Amount);
    }
}
