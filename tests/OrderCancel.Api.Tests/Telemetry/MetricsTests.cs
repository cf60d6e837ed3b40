using System.Net;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What an operator scrapes at <c>/metrics</c>, from the service run as a process (so nothing else in the test run
/// feeds its meters): the service's counters move with what happened, and the scheduler lag and outbox backlog gauges
/// show work that is due and not done.
/// </summary>
public sealed class MetricsTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["Scheduling__PollInterval"] = "01:00:00",
        ["Webhooks__AllowInsecureLoopback"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.100",
        ["Webhooks__FirstRetryDelay"] = "01:00:00",
        ["RateLimiting__PermitsPerSecond"] = "20",
    };

    [Fact]
    public async Task Counters_and_the_lag_and_backlog_gauges_move_with_cancels_scheduled_changes_webhooks_replays_and_rate_limits()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var partner = await database.NewPartnerAsync();
        var client = service.Client(partner.Key);
        var before = await Scrape.ReadAsync(service.BaseUrl);
        Assert.Equal(0, before.Sum("ordercancel_cancellations_total"));

        await (await client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{receiver.Url}}","events":["order.cancelled","order.partially_cancelled"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        await (await client.PostAsync("/v1/webhooks", Requests.Json("""{"url":"http://127.0.0.1:1/closed","events":["order.created"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);

        var order = await client.CreateOrderAsync();
        await (await client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_cancelled");
        await (await client.PostAsync($"/v1/orders/{order.Id()}/reactivate", null)).ShouldBeAsync(HttpStatusCode.OK);

        var later = await client.CreateOrderAsync();
        await (await client.CancelAsync(later.Id(), $$"""{"reason":"fraud_suspected","effective_date":"{{Cancellations.Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        await client.RunScheduledChangesAsync(Cancellations.Day(4));

        var overdue = await client.CreateOrderAsync();
        await (await client.CancelAsync(overdue.Id(), $$"""{"reason":"other","note":"lag","effective_date":"{{Cancellations.Day(9)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        await SetDueAsync(overdue.Id(), TimeSpan.FromMinutes(-10));

        for (var i = 0; i < 2; i++)
        {
            using var keyed = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = Requests.Json(TestOrders.NewOrder()) };
            keyed.Headers.Add("Idempotency-Key", "metrics-replay");
            await (await client.SendAsync(keyed)).ShouldBeAsync(HttpStatusCode.Created);
        }

        var flooder = service.Client((await database.NewPartnerAsync()).Key);
        // 200 against a bucket of 20 refilled at 20/s: limited unless they took 9 s to send (60 once took over 2 s, under load).
        var flood = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => flooder.GetAsync("/v1/orders")));
        var limited = flood.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(limited > 0, "The flood was never rate limited.");

        await receiver.WaitForAsync(received => received.Count >= 3);
        Scrape after = before;
        await Eventually.TrueAsync(
            async () => (after = await Scrape.ReadAsync(service.BaseUrl)).Sum("ordercancel_webhook_attempts_total", ("outcome", "succeeded")) >= 3
                && after.Sum("ordercancel_webhook_attempts_total", ("outcome", "retrying")) >= 1,
            () => $"Webhook attempts not counted:\n{after.Text}");

        Assert.Equal(1, after.Sum("ordercancel_cancellations_total", ("type", "partial"), ("reason", "out_of_stock"), ("scheduled", "false"), ("outcome", "applied")));
        Assert.Equal(1, after.Sum("ordercancel_cancellations_total", ("type", "full"), ("reason", "customer_request"), ("scheduled", "false"), ("outcome", "applied")));
        Assert.Equal(1, after.Sum("ordercancel_cancellations_total", ("type", "full"), ("scheduled", "false"), ("outcome", "order_already_cancelled")));
        Assert.Equal(1, after.Sum("ordercancel_cancellations_total", ("type", "full"), ("reason", "fraud_suspected"), ("scheduled", "true"), ("outcome", "scheduled")));
        Assert.Equal(1, after.Sum("ordercancel_cancellations_total", ("type", "full"), ("reason", "fraud_suspected"), ("scheduled", "true"), ("outcome", "applied")));
        Assert.Equal(1, after.Sum("ordercancel_scheduled_changes_total", ("kind", "cancellation"), ("outcome", "applied")));
        Assert.Equal(1, after.Sum("ordercancel_reactivations_total", ("scheduled", "false"), ("outcome", "applied")));
        Assert.Equal(1, after.Sum("ordercancel_idempotency_replays_total"));
        Assert.Equal(limited, after.Sum("ordercancel_rate_limited_total"));
        Assert.True(after.Sum("ordercancel_webhook_delivery_latency_seconds_count") >= 3);
        Assert.True(after.Sum("ordercancel_scheduler_lag_seconds") >= 590, $"Scheduler lag: {after.Sum("ordercancel_scheduler_lag_seconds")}");
        Assert.True(after.Sum("ordercancel_webhook_backlog") >= 4, $"Backlog: {after.Sum("ordercancel_webhook_backlog")}");
        Assert.True(after.Sum("ordercancel_webhook_backlog_age_seconds") > 0);
        Assert.True(after.Has("db_client_connection_count", ("db_client_connection_state", "idle")) || after.Has("db_client_connection_count", ("db_client_connection_state", "used")), "No pool gauge");
        Assert.True(after.Has("http_server_request_duration_seconds_count"), "No HTTP server metrics");

        // Nothing due any more: the lag falls back to 0 (the gauges are read from the database at most once a second).
        await SetDueAsync(overdue.Id(), null);
        await Eventually.TrueAsync(
            async () => (await Scrape.ReadAsync(service.BaseUrl)).Sum("ordercancel_scheduler_lag_seconds") == 0,
            () => "The scheduler lag did not fall back to 0.");
    }

    /// <summary>
    /// The metrics docs/operations.md names under "What to watch", each present at a fresh service's first scrape (after
    /// the readiness probe: the request histogram appears with a first request), so a dashboard shows 0 rather than
    /// nothing and an alert sees the first failure rise from 0. Not here, because they cannot be present before their
    /// first measurement: <c>ordercancel_webhook_delivery_latency_seconds</c> (OpenTelemetry has no empty histogram, only
    /// one with a first delivery), and Npgsql's <c>db_client_connection_npgsql_pending_requests</c> and
    /// <c>db_client_connection_npgsql_timeouts_total</c> (its instruments are its own, first touched when a request waits
    /// for a connection or gives up).
    /// </summary>
    public static readonly string[] DocumentedAtStart =
    [
        "http_server_request_duration_seconds",
        "ordercancel_scheduler_lag_seconds",
        "ordercancel_webhook_backlog",
        "ordercancel_webhook_backlog_age_seconds",
        "ordercancel_webhook_attempts_total",
        "ordercancel_cancellations_total",
        "ordercancel_reactivations_total",
        "ordercancel_scheduled_changes_total",
        "ordercancel_idempotency_replays_total",
        "ordercancel_rate_limited_total",
        "ordercancel_rate_limit_unlimited_total",
        "ordercancel_build_info",
        "db_client_connection_count",
        "db_client_connection_max",
    ];

    [Fact]
    public async Task A_first_scrape_lists_every_documented_metric_at_zero_and_the_build_s_version()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);

        var first = await Scrape.ReadAsync(service.BaseUrl);

        var families = Regex.Matches(first.Text, @"^# TYPE (\S+) ", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.All(DocumentedAtStart, name => Assert.True(families.Contains(name), $"{name} is not in the first scrape:\n{first.Text}"));
        Assert.All(["dotnet_", "kestrel_", "aspnetcore_"], prefix => Assert.Contains(families, name => name.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.All(
            DocumentedAtStart.Where(name => name.StartsWith("ordercancel_", StringComparison.Ordinal) && name.EndsWith("_total", StringComparison.Ordinal)),
            name => Assert.Equal(0, first.Sum(name)));
        Assert.All(["succeeded", "retrying", "failed", "disabled"], outcome => Assert.True(first.Has("ordercancel_webhook_attempts_total", ("outcome", outcome)), outcome));
        Assert.True(first.Has("ordercancel_cancellations_total", ("reason", "fraud_suspected"), ("outcome", "applied")));
        var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.Equal(1, first.Sum("ordercancel_build_info", ("version", version)));
        Assert.True(first.Has("target_info", ("service_name", "ordercancel"), ("service_version", version)), $"No service.version in target_info:\n{first.Text}");
    }

    [Fact]
    public async Task Metrics_are_off_in_Production_unless_enabled_and_need_no_key_where_on()
    {
        using var production = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>(Settings) { ["ASPNETCORE_ENVIRONMENT"] = "Production" });
        using var http = new HttpClient { BaseAddress = new Uri(production.BaseUrl) };
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/metrics")).StatusCode);

        using var enabled = await ServiceProcess.StartAsync(
            database.ConnectionString,
            new Dictionary<string, string>(Settings) { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Telemetry__Prometheus"] = "true" });
        var scrape = await Scrape.ReadAsync(enabled.BaseUrl);
        Assert.True(scrape.Has("ordercancel_scheduler_lag_seconds"));
    }

    private async Task SetDueAsync(long orderId, TimeSpan? fromNow) =>
        Assert.Equal(1, await Sql.ExecuteAsync(
            database.ConnectionString,
            "UPDATE orders SET next_change_due_at = @due WHERE id = @id",
            ("due", fromNow is { } offset ? DateTimeOffset.UtcNow + offset : DBNull.Value),
            ("id", orderId)));
}

/// <summary>With the standard <c>OTEL_EXPORTER_OTLP_*</c> variables set, traces and metrics reach an OTLP collector.</summary>
public sealed class OtlpExportTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task Traces_and_metrics_are_exported_over_OTLP_when_an_endpoint_is_set()
    {
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var collector = builder.Build();
        collector.MapPost("/v1/{signal}", (string signal, HttpContext http) =>
        {
            received.Enqueue(signal);
            http.Response.ContentType = "application/x-protobuf";
            return Task.CompletedTask;
        });
        await collector.StartAsync();
        var endpoint = collector.Urls.Single();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>
        {
            ["Database__MigrateOnStartup"] = "false",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var partner = await database.NewPartnerAsync();

        await service.Client(partner.Key).CreateOrderAsync();

        await Eventually.TrueAsync(
            () => received.Contains("traces") && received.Contains("metrics"),
            () => $"The collector got: {string.Join(", ", received.Distinct())}");
    }
}
