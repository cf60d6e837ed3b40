using System.Diagnostics;
using System.Security.Claims;
using FluentValidation;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Events;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Settings;
using OrderCancel.Api.Telemetry;
using OrderCancel.Api.Testing;
using OrderCancel.Api.Webhooks;
using Serilog;

namespace OrderCancel.Api;

/// <summary>The composition root: services, then the request pipeline.</summary>
public static class OrderCancelApp
{
    public static WebApplicationBuilder AddOrderCancel(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;

        services.AddSerilog((provider, logger) => logger
            .ReadFrom.Configuration(configuration)
            .ReadFrom.Services(provider)
            .Enrich.FromLogContext()
            .Enrich.With<CardNumberMasking>()
            .WriteToConsole(configuration),
            preserveStaticLogger: true);
        CachedLoggerFactory.Decorate(services);

        builder.WebHost.ConfigureKestrel(RequestLimits.Configure);
        services.ConfigureHttpJsonOptions(options => Json.Configure(options.SerializerOptions));
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(options => Json.Configure(options.JsonSerializerOptions));
        services.AddProblemDetails(options => options.CustomizeProblemDetails = Problems.CompleteFrameworkProblem);
        services.AddExceptionHandler<ExceptionHandler>();
        services.AddSingleton<DatabaseOutage>();

        PreparedStatements.Enabled = configuration.GetValue("Database:PrepareStatements", defaultValue: true);
        services.AddDbContextPool<OrdersDbContext>((provider, options) =>
            Database.UseOrders(options, Database.ConnectionString(provider.GetRequiredService<IConfiguration>())));
        services.AddSingleton<BackgroundDatabase>();

        services.TryAddSingleton(TimeProvider.System);
        services.AddDataProtection().SetApplicationName("OrderCancel").PersistKeysToDbContext<OrdersDbContext>();
        services.AddSingleton<WebhookSecrets>();
        services.AddSingleton<Cursors>();
        ValidationFilter.UseRequestPropertyNames();
        services.AddValidatorsFromAssemblyContaining<CreateOrderValidator>(ServiceLifetime.Singleton);

        services.Configure<AdminOptions>(configuration.GetSection("Admin"));
        services.AddAuthentication(Callers.Scheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(Callers.Scheme, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Callers.PartnerPolicy, policy => policy.RequireRole(Callers.PartnerRole))
            .AddPolicy(Callers.AdminPolicy, policy => policy.RequireRole(Callers.AdminRole));

        services.AddSingleton<KeyLookupLimiter>();
        services.AddPartnerRateLimits();
        services.AddForwardedClients(configuration);
        services.Configure<RetentionOptions>(configuration.GetSection("Retention"));
        services.Configure<EventFeedOptions>(configuration.GetSection("Events"));
        services.AddSingleton<RetentionPurge>();
        services.AddHostedService(provider => provider.GetRequiredService<RetentionPurge>());
        services.Configure<WebhookOptions>(configuration.GetSection("Webhooks"));
        // The dispatcher logs each attempt once, without the URL (it may carry a partner's token): no HttpClient log lines.
        services.AddHttpClient(WebhookDispatcher.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(provider => WebhookDispatcher.CreateHandler(() =>
                WebhookUrls.AllowsInsecureLoopback(
                    provider.GetRequiredService<IOptionsMonitor<WebhookOptions>>().CurrentValue,
                    provider.GetRequiredService<IHostEnvironment>())));
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(provider => provider.GetRequiredService<WebhookDispatcher>());
        services.AddSingleton<ScheduledChangeRunner>();
        services.AddHostedService<ScheduledChangeWorker>();
        services.AddSingleton(_ => new InteractiveLoad());
        services.AddSingleton<CancellationJobRunner>();
        services.AddSingleton<CancellationJobWorker>();
        services.AddHostedService(provider => provider.GetRequiredService<CancellationJobWorker>());

        services.AddOrderCancelTelemetry(configuration);
        services.AddSingleton<ShutdownDrain>();
        services.AddHostedService(provider => provider.GetRequiredService<ShutdownDrain>());
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [DatabaseHealthCheck.Tag]);
        services.AddOrderCancelOpenApi();
        return builder;
    }

    public static void UseOrderCancel(this WebApplication app)
    {
        // First, so everything after it (the request log, the rate limits) sees the client a known proxy forwarded.
        app.UseForwardedClients();
        // Outermost, so the request log carries the status the client got, after the exception handler and the
        // status-code pages have written their answers; the handler itself logs a real fault with its stack.
        app.UseSerilogRequestLogging(options =>
        {
            options.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            options.GetLevel = RequestLogLevel;
            options.EnrichDiagnosticContext = (diagnostics, http) =>
            {
                diagnostics.Set("PartnerId", http.User.FindFirstValue(Callers.PartnerIdClaim));
                diagnostics.Set("TraceId", Activity.Current?.TraceId.ToString());
            };
        });
        app.UseOrderCancelTelemetry();
        var load = app.Services.GetRequiredService<InteractiveLoad>();
        app.Use((http, next) => load.TrackAsync(http, next));
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestHeadLimits();
        app.UseOrderCancelOpenApi();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseTestEndpointGuard();
        app.UseMiddleware<Idempotency>();

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).WithTags("Health");
        app.MapHealthChecks("/health/ready", DatabaseHealthCheck.ReadinessOptions()).WithTags("Health");
        app.MapOrders();
        app.MapWebhooks();
        app.MapCancellationJobs();
        app.MapSettings();
        app.MapEventFeed();
        app.MapTestEndpoints();
        app.MapAdmin();
    }

    /// <summary>5xx at Error, refusals that hint at abuse (401, 403, 429) at Warning, every other answer at Information.</summary>
    public static Serilog.Events.LogEventLevel RequestLogLevel(HttpContext http, double elapsedMs, Exception? exception) =>
        http.Response.StatusCode switch
        {
            _ when exception is not null => Serilog.Events.LogEventLevel.Error,
            // A load balancer probes every instance every second or so: its answers would be most of the log, and an
            // outage is logged once by itself (DatabaseOutage). Debug shows them.
            _ when http.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal) => Serilog.Events.LogEventLevel.Debug,
            ExceptionHandler.ClientClosedRequest => Serilog.Events.LogEventLevel.Information,
            >= 500 => Serilog.Events.LogEventLevel.Error,
            StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden or StatusCodes.Status429TooManyRequests => Serilog.Events.LogEventLevel.Warning,
            _ => Serilog.Events.LogEventLevel.Information,
        };
}
