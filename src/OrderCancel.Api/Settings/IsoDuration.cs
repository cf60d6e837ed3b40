using System.Text.RegularExpressions;
using System.Xml;

namespace OrderCancel.Api.Settings;

/// <summary>
/// ISO 8601 durations as settings take them: weeks, days, hours, minutes and whole seconds (<c>PT15M</c>, <c>P1DT12H</c>,
/// <c>P2W</c>). Years and months are refused: their length depends on the date, and a setting must mean one span.
/// </summary>
public static partial class IsoDuration
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (text is null || Shape().Match(text) is not { Success: true } match)
        {
            return false;
        }

        var weeks = match.Groups["weeks"].Success ? long.Parse(match.Groups["weeks"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
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

    /// <summary>The canonical form: days and time, e.g. <c>P14D</c>, <c>PT15M</c>, <c>P1DT2H</c>.</summary>
    public static string Format(TimeSpan duration) => XmlConvert.ToString(duration);

    [GeneratedRegex(@"^P(?!\z)(?:(?<weeks>[0-9]{1,4})W)?(?:[0-9]{1,6}D)?(?:T(?=[0-9])(?:[0-9]{1,7}H)?(?:[0-9]{1,9}M)?(?:[0-9]{1,10}S)?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}
