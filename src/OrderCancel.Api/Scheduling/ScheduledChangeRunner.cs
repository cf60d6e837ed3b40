using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Telemetry;
using OrderCancel.Domain;

namespace OrderCancel.Api.Scheduling;

public sealed record SweepResult(int Applied, int Failed);

/// <summary>A committed batch's changes, with the scheduled cancellation each applied (for metrics).</summary>
internal sealed record SchedulerBatch(int Applied, int Failed, List<(OrderChange Change, ScheduledCancellation? Cancelling)> Changes);

/// <summary>
/// Applies scheduled changes (and expiries of unpaid orders, SPEC §11) that are due, in batches. Each batch locks its orders with
/// <c>FOR UPDATE SKIP LOCKED</c> in one transaction, so several instances sweeping the same database
/// never take the same order and each change applies exactly once.
/// </summary>
public sealed class ScheduledChangeRunner(BackgroundDatabase database, TimeProvider clock, OrderCancelMetrics metrics)
{
    /// <param name="partnerId">Only this partner's orders (the test route); all when null (the worker).</param>
    public async Task<SweepResult> ApplyDueAsync(DateTimeOffset asOf, Guid? partnerId, CancellationToken cancellation)
    {
        var batches = await BackgroundBatches.RunAsync(
            database,
            (db, token) => ApplyBatchAsync(db, asOf, partnerId, token),
            batch =>
            {
                batch.Changes.ForEach(c => Record(c.Change, c.Cancelling));
                return new SweepResult(batch.Applied, batch.Failed);
            },
            cancellation);
        return new SweepResult(batches.Sum(b => b.Applied), batches.Sum(b => b.Failed));
    }

    /// <summary>One batch of due orders; a short one means none was left (none that another batch had not locked).</summary>
    private async Task<(bool More, SchedulerBatch Result)> ApplyBatchAsync(OrdersDbContext db, DateTimeOffset asOf, Guid? partnerId, CancellationToken cancellation)
    {
        var orders = await db.LockDueOrdersAsync(asOf, partnerId, BackgroundBatches.BatchSize, cancellation);
        if (orders.Count == 0)
        {
            return (false, new SchedulerBatch(0, 0, []));
        }

        // The worker looks for due changes untraced; what it found is traced.
        using var traced = Telemetry.Telemetry.Traced();
        using var span = Telemetry.Telemetry.Source.StartActivity("scheduler.batch");
        var now = clock.GetUtcNow();
        var changes = new List<(OrderChange Change, ScheduledCancellation? Cancelling)>();
        foreach (var order in orders)
        {
            var scheduled = order.ScheduledCancellation;
            if (order.ApplyDueChange(asOf, now) is { } change)
            {
                changes.Add((change, scheduled));
            }
        }

        await db.SaveOrdersAsync(orders, cancellation);

        var failed = changes.Count(c => c.Change.Event.Type == OrderEventType.OrderScheduledCancellationFailed);
        span?.SetTag("ordercancel.batch.orders", orders.Count).SetTag("ordercancel.batch.applied", changes.Count - failed).SetTag("ordercancel.batch.failed", failed);
        return (orders.Count == BackgroundBatches.BatchSize, new SchedulerBatch(changes.Count - failed, failed, changes));
    }

    /// <summary>After the batch committed: what each applied change counts as.</summary>
    private void Record(OrderChange change, ScheduledCancellation? cancelling)
    {
        var type = cancelling is { Items.Count: > 0 } ? "partial" : "full";
        var reason = cancelling is null ? "unknown" : Json.Name(cancelling.Reason);
        switch (change.Event.Type)
        {
            case OrderEventType.OrderReactivated:
                metrics.ScheduledChange("reactivation", OrderMutation.Applied);
                metrics.Reactivation(scheduled: true, OrderMutation.Applied);
                break;
            case OrderEventType.OrderCancelled when cancelling is null:
                // Nothing was scheduled: an unpaid order reached its expires_at.
                metrics.ScheduledChange("expiry", OrderMutation.Applied);
                metrics.Cancellation("full", Json.Name(CancellationReason.Expired), scheduled: false, OrderMutation.Applied);
                break;
            case OrderEventType.OrderScheduledCancellationFailed:
                metrics.ScheduledChange("cancellation", "failed");
                metrics.Cancellation(type, reason, scheduled: true, change.Event.FailureCode ?? "failed");
                break;
            default:
                metrics.ScheduledChange("cancellation", OrderMutation.Applied);
                metrics.Cancellation(type, reason, scheduled: true, OrderMutation.Applied);
                break;
        }
    }
}

/// <summary>Looks for due scheduled changes every <c>Scheduling:PollInterval</c> (default 30 s).</summary>
public sealed class ScheduledChangeWorker(
    ScheduledChangeRunner runner,
    TimeProvider clock,
    IConfiguration configuration,
    DatabaseOutage outage,
    ILogger<ScheduledChangeWorker> logger) : PollingWorker(clock, outage, logger)
{
    protected override TimeSpan PollInterval { get; } = configuration.GetValue("Scheduling:PollInterval", TimeSpan.FromSeconds(30));

    protected override async Task RunRoundAsync(DateTimeOffset now, CancellationToken cancellation)
    {
        var result = await runner.ApplyDueAsync(now, partnerId: null, cancellation);
        if (result.Applied + result.Failed > 0)
        {
            logger.LogInformation("Applied {Applied} scheduled changes; {Failed} failed their rules", result.Applied, result.Failed);
        }
    }
}
