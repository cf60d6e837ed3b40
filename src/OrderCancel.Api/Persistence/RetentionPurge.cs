using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrderCancel.Api.Http;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Persistence;

/// <summary>How long what has no value after a while is kept (<c>Retention:*</c>).</summary>
public sealed class RetentionOptions
{
    /// <summary>Succeeded webhook deliveries, from their creation (default 30 days).</summary>
    public TimeSpan SucceededDeliveries { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Failed webhook deliveries, from their creation (default 90 days): long enough to recover them.</summary>
    public TimeSpan FailedDeliveries { get; set; } = TimeSpan.FromDays(90);
}

/// <summary>
/// Every hour: idempotency answers past their 24 h, and webhook deliveries past their retention. Deletes in batches,
/// so a large backlog never holds locks for long; pending deliveries are never purged.
/// </summary>
public sealed class RetentionPurge(
    IServiceScopeFactory scopes,
    TimeProvider clock,
    IOptionsMonitor<RetentionOptions> options,
    DatabaseOutage outage,
    ILogger<RetentionPurge> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);
    public const int BatchSize = 10_000;

    public sealed record Purged(int IdempotencyKeys, int SucceededDeliveries, int FailedDeliveries);

    /// <summary>
    /// Purges untraced: the deletes are the look for work, and an hourly trace of deletes that found nothing is noise.
    /// A purge that deleted rows is one <c>retention.purge</c> span afterwards, spanning it, with what it deleted.
    /// </summary>
    public async Task<Purged> PurgeOnceAsync(CancellationToken cancellation)
    {
        var started = DateTimeOffset.UtcNow;
        Purged purged;
        using (Telemetry.Telemetry.Untraced())
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
            var now = clock.GetUtcNow();
            var retention = options.CurrentValue;
            var keys = await Idempotency.PurgeExpiredAsync(db, now, cancellation);
            var succeeded = await PurgeDeliveriesAsync(db, DeliveryStatus.Succeeded, now - retention.SucceededDeliveries, cancellation);
            var failed = await PurgeDeliveriesAsync(db, DeliveryStatus.Failed, now - retention.FailedDeliveries, cancellation);
            purged = new Purged(keys, succeeded, failed);
        }

        if (purged is not (0, 0, 0))
        {
            using var span = Telemetry.Telemetry.Source.StartActivity("retention.purge", ActivityKind.Internal, parentContext: default, startTime: started);
            span?.SetTag("ordercancel.purged.idempotency_keys", purged.IdempotencyKeys)
                .SetTag("ordercancel.purged.succeeded_deliveries", purged.SucceededDeliveries)
                .SetTag("ordercancel.purged.failed_deliveries", purged.FailedDeliveries);
        }

        return purged;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var purged = await PurgeOnceAsync(stoppingToken);
                logger.LogInformation(
                    "Purged {IdempotencyKeys} expired idempotency keys, {SucceededDeliveries} succeeded and {FailedDeliveries} failed webhook deliveries",
                    purged.IdempotencyKeys,
                    purged.SucceededDeliveries,
                    purged.FailedDeliveries);
            }
            catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !stoppingToken.IsCancellationRequested)
            {
                outage.Report(exception);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Purging what is past its retention failed");
            }
        }
    }

    private static async Task<int> PurgeDeliveriesAsync(OrdersDbContext db, DeliveryStatus status, DateTimeOffset createdBefore, CancellationToken cancellation)
    {
        var total = 0;
        while (true)
        {
            var batch = db.WebhookDeliveries.Where(d => d.Status == status && d.CreatedAt < createdBefore).Select(d => d.Id).Take(BatchSize);
            var deleted = await db.WebhookDeliveries.Where(d => batch.Contains(d.Id)).ExecuteDeleteAsync(cancellation);
            total += deleted;
            if (deleted < BatchSize)
            {
                return total;
            }
        }
    }
}
