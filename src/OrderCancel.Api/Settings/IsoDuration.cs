using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;

namespace OrderCancel.Api.Settings;

/// <summary>
/// ISO 8601 durations as settings take them: days, hours, minutes and whole seconds (<c>PT15M</c>, <c>P1DT12H</c>), or
/// weeks alone (<c>P2W</c>, as ISO 8601 has them). Years and months are refused: their length depends on the date, and a
/// setting must mean one span. Each span has one spelling (<see cref="IsCanonical"/>), the one the answers use, so what a
/// partner writes is what it reads back and what its events carry (<c>P2W</c> aside, which ISO 8601 has no days form of).
/// </summary>
public static partial class IsoDuration
{
    /// <summary>Reads any duration of the accepted shape, canonical or not (<c>PT90M</c>, <c>P1W2D</c>).</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (text is null || Shape().Match(text) is not { Success: true } match)
        {
            return false;
        }

        var weeks = match.Groups["weeks"].Success ? long.Parse(match.Groups["weeks"].Value, CultureInfo.InvariantCulture) : 0;
        var rest = match.Groups["weeks"].Success ? "P" + text[(text.IndexOf('W', StringComparison.Ordinal) + 1)..] : text;
        try
        {
            // xs:duration is ISO 8601's form without weeks; "P" alone (nothing after the weeks) is zero.
            duration = TimeSpan.FromDays(7 * weeks) + (rest == "P" ? TimeSpan.Zero : XmlConvert.ToTimeSpan(rest));
            return true;
        }
        catch (Exception exception) when (exception is FormatException or OverflowException)
        {
            return false;
        }
    }

    /// <summary>
    /// True for the one spelling of a span: <see cref="Format"/>'s (hours 0-23, minutes and seconds 0-59, no zero parts,
    /// no leading zeros), or whole weeks alone without leading zeros.
    /// </summary>
    public static bool IsCanonical(string text) =>
        TryParse(text, out var duration) && (text == Format(duration) || WeeksAlone().IsMatch(text));

    /// <summary>The canonical form: days and time, e.g. <c>P14D</c>, <c>PT15M</c>, <c>P1DT2H</c>.</summary>
    public static string Format(TimeSpan duration) => XmlConvert.ToString(duration);

    [GeneratedRegex(@"^P(?!\z)(?:(?<weeks>[0-9]{1,4})W)?(?:[0-9]{1,6}D)?(?:T(?=[0-9])(?:[0-9]{1,7}H)?(?:[0-9]{1,9}M)?(?:[0-9]{1,10}S)?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();

    [GeneratedRegex(@"^P[1-9][0-9]{0,3}W\z", RegexOptions.CultureInvariant)]
    private static partial Regex WeeksAlone();
}
