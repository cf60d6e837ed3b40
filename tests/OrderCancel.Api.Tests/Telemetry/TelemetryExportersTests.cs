using Microsoft.Extensions.Configuration;
using OrderCancel.Api.Telemetry;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The one line the service logs at start-up about where its telemetry goes. An OTLP endpoint on the wrong protocol
/// fails without a word (gRPC is the default; a collector's HTTP receiver is on 4318), so the line names the protocol
/// in effect and, when it is only the default, how to choose HTTP.
/// </summary>
public sealed class TelemetryExportersTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task The_start_up_log_names_the_exporters_and_the_OTLP_protocol_in_effect()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>
        {
            ["Database__MigrateOnStartup"] = "false",
            ["Serilog__MinimumLevel__Default"] = "Information",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318",
        });

        await Eventually.TrueAsync(() => service.Output().Contains("Telemetry: ", StringComparison.Ordinal), () => $"No telemetry line:\n{service.Output()}");
        var line = Assert.Single(service.Output().Split('\n'), l => l.Contains("Telemetry: ", StringComparison.Ordinal));
        Assert.Contains(
            "Telemetry: OTLP export on: traces to http://127.0.0.1:4318 (grpc, the default), metrics to http://127.0.0.1:4318 (grpc, the default) "
            + "(for a receiver of OTLP over HTTP, usually on port 4318, set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf); Prometheus /metrics on; service.version ",
            line,
            StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", false, "OTLP export off (OTEL_EXPORTER_OTLP_ENDPOINT not set); Prometheus /metrics off")]
    [InlineData(
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/;OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        true,
        "OTLP export on: traces to http://collector:4318/v1/traces (http/protobuf), metrics to http://collector:4318/v1/metrics (http/protobuf); Prometheus /metrics on")]
    [InlineData(
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317;OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
        false,
        "OTLP export on: traces to http://collector:4317 (grpc), metrics to http://collector:4317 (grpc); Prometheus /metrics off")]
    [InlineData(
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318;OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf;OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://traces:9999/in",
        true,
        "OTLP export on: traces to http://traces:9999/in (http/protobuf), metrics to http://collector:4318/v1/metrics (http/protobuf); Prometheus /metrics on")]
    [InlineData(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://metrics:4318/v1/metrics;OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf",
        true,
        "OTLP export on: traces to http://localhost:4317 (grpc, the default), metrics to http://metrics:4318/v1/metrics (http/protobuf) (for a receiver")]
    [InlineData(
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318;OTEL_EXPORTER_OTLP_PROTOCOL=http",
        true,
        "traces to http://collector:4318 (grpc, the default: 'http' is neither grpc nor http/protobuf)")]
    [InlineData("OTEL_SDK_DISABLED=true;OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", true, "OpenTelemetry off (OTEL_SDK_DISABLED=true)")]
    public void The_line_reads_the_standard_settings_as_OpenTelemetry_does(string settings, bool prometheus, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Split('=', 2)).Select(kv => KeyValuePair.Create(kv[0], (string?)kv[1])))
            .Build();

        var line = TelemetryExporters.Describe(configuration, prometheus);

        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.EndsWith($"; service.version {Telemetry.Telemetry.Version}", line, StringComparison.Ordinal);
    }
}
