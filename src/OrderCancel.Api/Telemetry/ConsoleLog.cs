using Serilog;
using Serilog.Formatting.Compact;

namespace OrderCancel.Api.Telemetry;

/// <summary>
/// Where the service logs: the console, as plain text for people, or as compact JSON (one object a line, with
/// <c>@tr</c>/<c>@sp</c> trace and span ids) for a log pipeline when <c>Serilog:Formatter</c> is <c>json</c>
/// (env <c>Serilog__Formatter=json</c>). Other sinks can be added under <c>Serilog:WriteTo</c>.
/// </summary>
public static class ConsoleLog
{
    public const string FormatterKey = "Serilog:Formatter";
    public const string TextTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj} partner={PartnerId} trace={TraceId}{NewLine}{Exception}";

    public static LoggerConfiguration WriteToConsole(this LoggerConfiguration logger, IConfiguration configuration) =>
        configuration[FormatterKey]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "text" => logger.WriteTo.Async(sink => sink.Console(outputTemplate: TextTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture)),
            "json" => logger.WriteTo.Async(sink => sink.Console(new RenderedCompactJsonFormatter())),
            var other => throw new InvalidOperationException($"{FormatterKey} is '{other}'; use text (the default) or json."),
        };
}
