using System.Collections.Frozen;

namespace OrderCancel.Domain;

/// <summary>An ISO 4217 currency and the number of decimals its amounts carry.</summary>
public sealed class Currency
{
    private static readonly FrozenDictionary<string, Currency> ByCode = BuildTable();

    private Currency(string code, int minorUnit)
    {
        Code = code;
        MinorUnit = minorUnit;
    }

    public string Code { get; }

    /// <summary>Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for KWD.</summary>
    public int MinorUnit { get; }

    public static IEnumerable<string> Codes => ByCode.Keys;

    public static bool TryFind(string? code, out Currency currency)
    {
        if (code is not null && ByCode.TryGetValue(code, out var found))
        {
            currency = found;
            return true;
        }

        currency = null!;
        return false;
    }

    public static Currency Of(string code) =>
        ByCode.TryGetValue(code, out var currency)
            ? currency
            : throw new ArgumentException($"'{code}' is not an ISO 4217 currency code.", nameof(code));

    /// <summary>The one place amounts are rounded: to the minor unit, half away from zero.</summary>
    public decimal Round(decimal amount) => Math.Round(amount, MinorUnit, MidpointRounding.AwayFromZero);

    /// <summary>True when the amount has no more decimals than the currency allows.</summary>
    public bool Fits(decimal amount) => Round(amount) == amount;

    public override string ToString() => Code;

    private static FrozenDictionary<string, Currency> BuildTable()
    {
        // Active ISO 4217 codes. Most have two decimals; these are the exceptions.
        const string NoDecimals = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
        const string ThreeDecimals = "BHD IQD JOD KWD LYD OMR TND";
        const string FourDecimals = "CLF UYW";
        const string TwoDecimals =
            "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD " +
            "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL " +
            "GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR " +
            "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD " +
            "PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC " +
            "SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG";

        return new[] { (NoDecimals, 0), (TwoDecimals, 2), (ThreeDecimals, 3), (FourDecimals, 4) }
            .SelectMany(group => group.Item1
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(code => new Currency(code, group.Item2)))
            .ToFrozenDictionary(currency => currency.Code, StringComparer.Ordinal);
    }
}
