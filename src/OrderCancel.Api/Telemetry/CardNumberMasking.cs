using System.Text.RegularExpressions;
using Serilog.Core;
using Serilog.Events;

namespace OrderCancel.Api.Telemetry;

/// <summary>
/// Masks anything that looks like a card number (13–19 digits, spaces or dashes between them) in log properties,
/// wherever it came from. Digits inside a longer token are not a card: trace ids and GUIDs are hexadecimal and
/// sometimes hold a run of 13 digits, which must stay readable.
/// </summary>
public sealed partial class CardNumberMasking : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        List<LogEventProperty>? masked = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (value is ScalarValue { Value: string text } && CardLike().IsMatch(text))
            {
                (masked ??= []).Add(new LogEventProperty(name, new ScalarValue(Mask(text))));
            }
        }

        foreach (var property in masked ?? [])
        {
            logEvent.AddOrUpdateProperty(property);
        }
    }

    public static string Mask(string text) => CardLike().Replace(text, match => new string('*', match.Length - 4) + match.Value[^4..]);

    [GeneratedRegex(@"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-]*\w)")]
    private static partial Regex CardLike();
}
