using System.Diagnostics;
using System.Reflection;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OrderCancel.Api.Telemetry;

/// <summary>
/// OpenTelemetry with the ecosystem's instrumentation: traces of each request (W3C <c>traceparent</c> honoured), its SQL
/// (Npgsql), webhook sends and scheduler batches; metrics of the HTTP server and client, the runtime, Npgsql's pool and
/// the service's own (<see cref="OrderCancelMetrics"/>). Exported over OTLP when the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, and scraped by Prometheus at <c>/metrics</c> where enabled. Background loops
/// poll <see cref="Untraced"/>, so an idle service exports no traces.
/// </summary>
public static class Telemetry
{
    public const string SourceName = "OrderCancel";
    public const string ServiceName = "ordercancel";

    /// <summary>The response header that names the request's trace (W3C Trace Context Level 2): the problem body's <c>trace_id</c>.</summary>
    public const string TraceResponseHeader = "traceresponse";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// The running build: the assembly's informational version (the project's version and, where the build saw the git
    /// checkout, <c>+</c> its commit). The <c>service.version</c> resource attribute, <c>ordercancel_build_info</c>'s
    /// label, and the webhooks' <c>User-Agent</c>.
    /// </summary>
    public static readonly string Version =
        typeof(Telemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// For a background loop's look for work: nothing under it makes a span, not even its SQL, because a poll that finds
    /// nothing, every second all day, would be most of what a quiet service exports. Work the poll finds turns tracing
    /// back on with <see cref="Traced"/>.
    /// </summary>
    public static IDisposable Untraced() => SuppressInstrumentationScope.Begin();

    /// <summary>Tracing back on, inside an <see cref="Untraced"/> poll, for the work it found.</summary>
    public static IDisposable Traced() => SuppressInstrumentationScope.Begin(false);

    /// <summary>
    /// Hosting starts a request Activity only when someone listens, and logs, problems and <c>traceresponse</c> need
    /// its trace id even where OpenTelemetry is turned off (<c>OTEL_SDK_DISABLED</c>) or samples the request out: this
    /// listener asks for no more than the ids.
    /// </summary>
    private static readonly Lazy<ActivityListener> RequestIds = new(() =>
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    });

    public static IServiceCollection AddOrderCancelTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        _ = RequestIds.Value;
        services.AddSingleton<OrderCancelMetrics>();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: Version))
            .WithTracing(tracing => tracing
                .AddSource(SourceName)
                .AddAspNetCoreInstrumentation(options => options.Filter = http => !IsOperatorPath(http.Request.Path))
                .AddHttpClientInstrumentation()
                .AddNpgsql())
            .WithMetrics(metrics => metrics
                .AddMeter(OrderCancelMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddPrometheusExporter());
        if (TelemetryExporters.OtlpConfigured(configuration))
        {
            telemetry.UseOtlpExporter();
        }

        return services;
    }

    /// <summary>
    /// Answers every response with <c>traceresponse</c>, and serves <c>/metrics</c> unless turned off (default: on, but
    /// off in Production unless <c>Telemetry:Prometheus</c> is true). It needs no key: keep it off the public edge. Logs
    /// once where telemetry goes (<see cref="TelemetryExporters.Describe"/>).
    /// </summary>
    public static WebApplication UseOrderCancelTelemetry(this WebApplication app)
    {
        var prometheus = app.Configuration.GetValue("Telemetry:Prometheus", defaultValue: !app.Environment.IsProduction());
        app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Telemetry).FullName!)
            .LogInformation("Telemetry: {Exporters:l}", TelemetryExporters.Describe(app.Configuration, prometheus));

        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpActivityFeature>()?.Activity is { } activity)
                {
                    context.Response.Headers[TraceResponseHeader] = activity.Id;
                }

                return Task.CompletedTask;
            });
            return next(context);
        });
        if (prometheus)
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint();
        }

        return app;
    }

    public static bool IsOperatorPath(PathString path) =>
        path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase);
}
