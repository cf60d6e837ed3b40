using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Webhooks;
using OrderCancel.Domain;

namespace OrderCancel.Api.Telemetry;

/// <summary>
/// The service's own metrics (meter <c>OrderCancel</c>), beside ASP.NET Core's, HttpClient's, the runtime's and
/// Npgsql's. Counters are incremented where the thing happens; the scheduler lag and the outbox backlog are read from
/// the database at each collection, so they keep growing when the worker or the dispatcher has stopped, which is when
/// an alert on them matters. Every counter is at 0 from the start, so a first scrape lists every documented metric and an
/// alert on the first failure sees it rise from 0.
/// </summary>
public sealed class OrderCancelMetrics
{
    public const string MeterName = "OrderCancel";

    /// <summary>Why a request was served without its rate limit: Redis known unreachable (or lost on the way).</summary>
    public const string Unreachable = "unreachable";

    /// <summary>Why a request was served without its rate limit: Redis answered later than <c>asyncTimeout</c>.</summary>
    public const string Late = "late";

    private readonly Counter<long> _cancellations;
    private readonly Counter<long> _reactivations;
    private readonly Counter<long> _scheduledChanges;
    private readonly Counter<long> _webhookAttempts;
    private readonly Histogram<double> _webhookLatency;
    private readonly Counter<long> _idempotentReplays;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _servedUnlimited;
    private int _redisUp = -1;

    public OrderCancelMetrics(IMeterFactory meters, IServiceScopeFactory scopes, TimeProvider clock)
    {
        var meter = meters.Create(MeterName);
        var backlog = new BacklogProbe(scopes, clock);
        _cancellations = meter.CreateCounter<long>(
            "ordercancel.cancellations", "{cancellation}",
            "Cancellation requests and applied scheduled cancellations, by type, reason, scheduled and outcome (applied, scheduled, or the refusal code).");
        _reactivations = meter.CreateCounter<long>(
            "ordercancel.reactivations", "{reactivation}", "Reactivation requests and applied scheduled reactivations, by scheduled and outcome.");
        _scheduledChanges = meter.CreateCounter<long>(
            "ordercancel.scheduled_changes", "{change}", "Scheduled changes the scheduler handled, by kind (cancellation, reactivation) and outcome (applied, failed).");
        _webhookAttempts = meter.CreateCounter<long>(
            "ordercancel.webhook.attempts", "{attempt}", "Webhook delivery attempts by outcome: succeeded, retrying, failed (gave up), disabled (410).");
        _webhookLatency = meter.CreateHistogram<double>(
            "ordercancel.webhook.delivery_latency", "s", "From the event to its first 2xx from the endpoint.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400] });
        _idempotentReplays = meter.CreateCounter<long>(
            "ordercancel.idempotency.replays", "{request}", "Retries answered with the kept answer of their Idempotency-Key.");
        _rateLimited = meter.CreateCounter<long>(
            "ordercancel.rate_limited", "{request}", "Requests refused with 429 rate_limited.");
        _servedUnlimited = meter.CreateCounter<long>(
            "ordercancel.rate_limit.unlimited", "{request}",
            "Requests served without their partner's rate limit because the shared buckets' Redis could not be reached, by reason: unreachable (an outage), late (no answer within asyncTimeout).");
        meter.CreateObservableGauge(
            "ordercancel.rate_limit.redis_up", RedisUpMeasurements, description:
            "1 while the shared rate-limit buckets' Redis answers, 0 while it cannot be reached; absent without ConnectionStrings:Redis.");
        meter.CreateObservableGauge(
            "ordercancel.scheduler.lag", () => backlog.Read().SchedulerLagSeconds, "s",
            "Now minus the oldest scheduled change that is due and not applied yet; 0 when none is due.");
        meter.CreateObservableGauge(
            "ordercancel.webhook.backlog", () => backlog.Read().PendingDeliveries, "{delivery}", "Webhook deliveries not yet succeeded or given up.");
        meter.CreateObservableGauge(
            "ordercancel.webhook.backlog_age", () => backlog.Read().OldestPendingSeconds, "s", "Age of the oldest pending webhook delivery; 0 when none is pending.");
        meter.CreateObservableGauge(
            "ordercancel.build_info", () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", Telemetry.Version)),
            description: "Always 1; its version label names the running build (the assembly's informational version).");
        StartAtZero();
    }

    /// <summary>
    /// Zero-valued series for the label values every service sees sooner or later. Without them a counter appears only with
    /// its first increment: a dashboard shows nothing instead of 0, and a rate or an alert misses that first increment.
    /// The latency histogram cannot start so: OpenTelemetry has no empty histogram, only one with a first delivery.
    /// </summary>
    private void StartAtZero()
    {
        foreach (var reason in Enum.GetValues<CancellationReason>())
        {
            _cancellations.Add(0, CancellationTags("full", Json.Name(reason), scheduled: false, OrderMutation.Applied));
        }

        _reactivations.Add(0, ReactivationTags(scheduled: false, OrderMutation.Applied));
        _reactivations.Add(0, ReactivationTags(scheduled: true, OrderMutation.Applied));
        _scheduledChanges.Add(0, ScheduledChangeTags("cancellation", OrderMutation.Applied));
        _scheduledChanges.Add(0, ScheduledChangeTags("cancellation", "failed"));
        _scheduledChanges.Add(0, ScheduledChangeTags("reactivation", OrderMutation.Applied));
        _scheduledChanges.Add(0, ScheduledChangeTags("expiry", OrderMutation.Applied));
        foreach (var outcome in (string[])["succeeded", "retrying", "failed", "disabled"])
        {
            _webhookAttempts.Add(0, WebhookAttemptTag(outcome));
        }

        _idempotentReplays.Add(0);
        _rateLimited.Add(0);
        _servedUnlimited.Add(0, UnlimitedTag(Unreachable));
        _servedUnlimited.Add(0, UnlimitedTag(Late));
    }

    public void Cancellation(string type, string reason, bool scheduled, string outcome) =>
        _cancellations.Add(1, CancellationTags(type, reason, scheduled, outcome));

    public void Reactivation(bool scheduled, string outcome) => _reactivations.Add(1, ReactivationTags(scheduled, outcome));

    public void ScheduledChange(string kind, string outcome) => _scheduledChanges.Add(1, ScheduledChangeTags(kind, outcome));

    public void WebhookAttempt(string outcome) => _webhookAttempts.Add(1, WebhookAttemptTag(outcome));

    public void WebhookDelivered(TimeSpan sinceEvent) => _webhookLatency.Record(Math.Max(0, sinceEvent.TotalSeconds));

    public void IdempotentReplay() => _idempotentReplays.Add(1);

    public void RateLimited() => _rateLimited.Add(1);

    public void ServedUnlimited(string reason) => _servedUnlimited.Add(1, UnlimitedTag(reason));

    public void RedisUp(bool up) => Volatile.Write(ref _redisUp, up ? 1 : 0);

    private IEnumerable<Measurement<int>> RedisUpMeasurements() =>
        Volatile.Read(ref _redisUp) is var up and >= 0 ? [new Measurement<int>(up)] : [];

    // One place per counter builds its labels, so a zero series and the counts after it are the same series.
    private static TagList CancellationTags(string type, string reason, bool scheduled, string outcome) =>
        new() { { "type", type }, { "reason", reason }, { "scheduled", scheduled }, { "outcome", outcome } };

    private static TagList ReactivationTags(bool scheduled, string outcome) => new() { { "scheduled", scheduled }, { "outcome", outcome } };

    private static TagList ScheduledChangeTags(string kind, string outcome) => new() { { "kind", kind }, { "outcome", outcome } };

    private static KeyValuePair<string, object?> WebhookAttemptTag(string outcome) => new("outcome", outcome);

    private static KeyValuePair<string, object?> UnlimitedTag(string reason) => new("reason", reason);

    /// <summary>
    /// One small query for the three gauges, run at most once a second however many collectors ask; a database that
    /// cannot be reached leaves the gauges out of that collection rather than failing it.
    /// </summary>
    private sealed class BacklogProbe(IServiceScopeFactory scopes, TimeProvider clock)
    {
        private readonly Lock _gate = new();
        private (DateTimeOffset At, Backlog Value) _last;

        public Backlog Read()
        {
            lock (_gate)
            {
                var now = clock.GetUtcNow();
                if (now - _last.At < TimeSpan.FromSeconds(1))
                {
                    return _last.Value;
                }

                _last = (now, Query(now));
                return _last.Value;
            }
        }

        private Backlog Query(DateTimeOffset now)
        {
            try
            {
                // Reading a gauge is not work worth a trace: without this, each collection (an OTLP export every minute)
                // would send its three queries as spans of their own.
                using var untraced = Telemetry.Untraced();

                // Synchronous: an observable gauge's callback is. Three small indexed queries, at most once a second.
                using var scope = scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
                var oldestDue = db.Orders.Where(o => o.NextChangeDueAt != null).Min(o => o.NextChangeDueAt);
                var pending = db.WebhookDeliveries.Where(d => d.Status == DeliveryStatus.Pending);
                var oldestPending = pending.Min(d => (DateTimeOffset?)d.CreatedAt);
                return new Backlog(
                    oldestDue is { } due && due <= now ? (now - due).TotalSeconds : 0,
                    pending.LongCount(),
                    oldestPending is { } created ? Math.Max(0, (now - created).TotalSeconds) : 0);
            }
            catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception))
            {
                return new Backlog(0, 0, 0);
            }
        }
    }

    private readonly record struct Backlog(double SchedulerLagSeconds, long PendingDeliveries, double OldestPendingSeconds);
}
