namespace OrderCancel.Domain;

/// <summary>An amount in a currency, always rounded to that currency's minor unit.</summary>
public readonly record struct Money
{
    private Money(decimal amount, Currency currency)
    {
        Amount = amount;
        Currency = currency;
    }

    public decimal Amount { get; }

    public Currency Currency { get; }

    public static Money Zero(Currency currency) => new(0m, currency);

    /// <summary>Rounds the exact value once, half away from zero (SPEC §1).</summary>
    public static Money Of(decimal exact, Currency currency) => new(currency.Round(exact), currency);

    public static Money operator +(Money left, Money right) => new(left.Amount + right.Amount, SameCurrency(left, right));

    public static Money operator -(Money left, Money right) => new(left.Amount - right.Amount, SameCurrency(left, right));

    /// <summary>The share <paramref name="part"/>/<paramref name="whole"/> of this amount, rounded.</summary>
    public Money Prorate(int part, int whole) => Of(Amount * part / whole, Currency);

    public Money Times(decimal factor) => Of(Amount * factor, Currency);

    public Money AtLeastZero() => Amount < 0m ? Zero(Currency) : this;

    public override string ToString() => $"{Amount} {Currency.Code}";

    private static Currency SameCurrency(Money left, Money right) =>
        left.Currency == right.Currency
            ? left.Currency
            : throw new InvalidOperationException($"Cannot combine {left.Currency} with {right.Currency}.");
}
