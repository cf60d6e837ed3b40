using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Telemetry;
using OrderCancel.Domain;

namespace OrderCancel.Api.Scheduling;

public sealed record SweepResult(int Applied, int Failed);

/// <summary>
/// Applies scheduled changes that are due, in batches. Each batch locks its orders with
/// <c>FOR UPDATE SKIP LOCKED</c> in one transaction, so several instances sweeping the same database
/// never take the same order and each change applies exactly once.
/// </summary>
public sealed class ScheduledChangeRunner(IServiceScopeFactory scopes, TimeProvider clock, OrderCancelMetrics metrics)
{
    /// <summary>
    /// Orders a batch locks and saves. Small on purpose: the orders of every batch in flight outlive a few
    /// collections, and with batches of 500 the heap grew by ~150 MB during a sweep of 100,000 for no gain in
    /// speed (bench/README.md).
    /// </summary>
    public const int BatchSize = 100;

    /// <summary>Batches run side by side: while one waits on the database, another applies its orders.</summary>
    public const int Workers = 4;

    /// <param name="partnerId">Only this partner's orders (the test route); all when null (the worker).</param>
    public async Task<SweepResult> ApplyDueAsync(DateTimeOffset asOf, Guid? partnerId, CancellationToken cancellation)
    {
        var sweeps = await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => SweepAsync(asOf, partnerId, cancellation)));
        return new SweepResult(sweeps.Sum(s => s.Applied), sweeps.Sum(s => s.Failed));
    }

    private async Task<SweepResult> SweepAsync(DateTimeOffset asOf, Guid? partnerId, CancellationToken cancellation)
    {
        int applied = 0, failed = 0;
        while (true)
        {
            var (batch, batchApplied, batchFailed) = await ApplyBatchAsync(asOf, partnerId, cancellation);
            applied += batchApplied;
            failed += batchFailed;
            if (batch < BatchSize)
            {
                return new SweepResult(applied, failed);
            }
        }
    }

    private async Task<(int Locked, int Applied, int Failed)> ApplyBatchAsync(DateTimeOffset asOf, Guid? partnerId, CancellationToken cancellation)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellation);

        var orders = await db.LockDueOrdersAsync(asOf, partnerId, BatchSize, cancellation);
        if (orders.Count == 0)
        {
            return (0, 0, 0);
        }

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
        await transaction.CommitAsync(cancellation);

        var failed = changes.Count(c => c.Change.Event.Type == OrderEventType.OrderScheduledCancellationFailed);
        span?.SetTag("ordercancel.batch.orders", orders.Count).SetTag("ordercancel.batch.applied", changes.Count - failed).SetTag("ordercancel.batch.failed", failed);
        foreach (var (change, cancelling) in changes)
        {
            Record(change, cancelling);
        }

        return (orders.Count, changes.Count - failed, failed);
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
    ILogger<ScheduledChangeWorker> logger) : BackgroundService
{
    private long _lastSweptAsOf = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>
    /// The clock reading the latest finished sweep (successful or not) applied changes as of; lets a caller know the
    /// work due by a given instant is done, which a count of sweeps cannot (a sweep that began before the clock moved
    /// may finish after it).
    /// </summary>
    public DateTimeOffset LastSweptAsOf => new(Volatile.Read(ref _lastSweptAsOf), TimeSpan.Zero);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = configuration.GetValue("Scheduling:PollInterval", TimeSpan.FromSeconds(30));
        using var timer = new PeriodicTimer(interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.GetUtcNow();
            try
            {
                var result = await runner.ApplyDueAsync(now, partnerId: null, stoppingToken);
                if (result.Applied + result.Failed > 0)
                {
                    logger.LogInformation("Applied {Applied} scheduled changes; {Failed} failed their rules", result.Applied, result.Failed);
                }
            }
            catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !stoppingToken.IsCancellationRequested)
            {
                outage.Report(exception);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // One bad batch must not stop the worker; the next tick tries again.
                logger.LogError(exception, "Applying scheduled changes failed");
            }
            finally
            {
                Volatile.Write(ref _lastSweptAsOf, now.UtcTicks);
            }
        }
    }
}
