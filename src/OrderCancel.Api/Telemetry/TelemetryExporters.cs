namespace OrderCancel.Api.Telemetry;

/// <summary>
/// Where telemetry goes, read from the standard <c>OTEL_*</c> settings the way OpenTelemetry reads them, for the one line
/// the service logs at start-up. An OTLP exporter on the wrong protocol fails without a word (gRPC is the default, and a
/// collector's HTTP receiver listens on 4318), so the line names the protocol in effect and where it came from.
/// </summary>
public static class TelemetryExporters
{
    private const string Grpc = "grpc";
    private const string HttpProtobuf = "http/protobuf";

    public static bool OtlpConfigured(IConfiguration configuration) =>
        Setting(configuration, "OTEL_EXPORTER_OTLP_ENDPOINT") is not null
        || Setting(configuration, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is not null
        || Setting(configuration, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") is not null;

    /// <summary>
    /// For example <c>OTLP export on: traces to http://collector:4317 (grpc, the default), metrics to … ; Prometheus
    /// /metrics on; service.version 1.0.0+…</c>.
    /// </summary>
    public static string Describe(IConfiguration configuration, bool prometheus)
    {
        var scrape = $"Prometheus /metrics {(prometheus ? "on" : "off")}; service.version {Telemetry.Version}";
        if (string.Equals(Setting(configuration, "OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return $"OpenTelemetry off (OTEL_SDK_DISABLED=true): no spans, no metrics, no OTLP export; {scrape}";
        }

        if (!OtlpConfigured(configuration))
        {
            return $"OTLP export off (OTEL_EXPORTER_OTLP_ENDPOINT not set); {scrape}";
        }

        var traces = Resolve(configuration, "TRACES", "v1/traces");
        var metrics = Resolve(configuration, "METRICS", "v1/metrics");
        var hint = traces.Defaulted || metrics.Defaulted
            ? " (for a receiver of OTLP over HTTP, usually on port 4318, set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)"
            : "";
        return $"OTLP export on: traces to {traces}, metrics to {metrics}{hint}; {scrape}";
    }

    /// <summary>
    /// A signal's endpoint and protocol: its own <c>OTEL_EXPORTER_OTLP_{SIGNAL}_*</c> setting first, then the general one
    /// (over HTTP with the signal's path appended), then OpenTelemetry's defaults.
    /// </summary>
    private static Export Resolve(IConfiguration configuration, string signal, string path)
    {
        var asked = Setting(configuration, $"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") ?? Setting(configuration, "OTEL_EXPORTER_OTLP_PROTOCOL");
        var protocol = asked is Grpc or HttpProtobuf ? asked : Grpc;
        var defaulted = asked is null;
        var note = defaulted ? ", the default" : asked != protocol ? $", the default: '{asked}' is neither {Grpc} nor {HttpProtobuf}" : "";
        var endpoint = Setting(configuration, $"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
            ?? (Setting(configuration, "OTEL_EXPORTER_OTLP_ENDPOINT") is { } general
                ? protocol == Grpc ? general : WithPath(general, path)
                : protocol == Grpc ? "http://localhost:4317" : $"http://localhost:4318/{path}");
        return new Export(endpoint, protocol + note, defaulted || asked != protocol);
    }

    private static string WithPath(string endpoint, string path) =>
        endpoint.TrimEnd('/').EndsWith(path, StringComparison.Ordinal) ? endpoint : $"{endpoint.TrimEnd('/')}/{path}";

    private static string? Setting(IConfiguration configuration, string key) =>
        configuration[key] is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private readonly record struct Export(string Endpoint, string Protocol, bool Defaulted)
    {
        public override string ToString() => $"{Endpoint} ({Protocol})";
    }
}
