using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Http;

/// <summary>Deletes idempotency answers past their 24 h, every hour.</summary>
public sealed class IdempotencyPurge(IServiceScopeFactory scopes, TimeProvider clock, DatabaseOutage outage, ILogger<IdempotencyPurge> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    public async Task<int> PurgeOnceAsync(CancellationToken cancellation)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        return await Idempotency.PurgeExpiredAsync(db, clock.GetUtcNow(), cancellation);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var purged = await PurgeOnceAsync(stoppingToken);
                logger.LogInformation("Purged {Count} expired idempotency keys", purged);
            }
            catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !stoppingToken.IsCancellationRequested)
            {
                outage.Report(exception);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Purging idempotency keys failed");
            }
        }
    }
}
