using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Expiry runs in the scheduler's sweep on two service processes; one is killed with SIGKILL while every worker of both
/// has a batch in flight, and started again. Every unpaid order ends expired exactly once: one cancellation, one event.
/// </summary>
/// <remarks>
/// The sweep claims orders with SKIP LOCKED, so holding an order's row would only make it skip that order. The test
/// holds a line of every hundredth order past the first thousand instead: a batch that claimed such an order waits at
/// its save, with its orders claimed and changed in memory, until the kill.
/// </remarks>
public sealed class ExpiryCrashTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int Orders = 3000;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["RateLimiting__PermitsPerSecond"] = "100000",
        ["Scheduling__PollInterval"] = "00:00:00.200",
    };

    [Fact]
    public async Task After_a_kill_9_mid_sweep_every_unpaid_order_is_expired_exactly_once()
    {
        var partner = await database.NewPartnerAsync();
        var connection = database.ConnectionString;
        using var other = await ServiceProcess.StartAsync(connection, Settings);
        var client = other.Client(partner.Key);
        await Parallel.ForAsync(0, Orders, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var order = await client.CreateOrderAsync();
            if (i % 10 == 0)
            {
                await client.PayAsync(order);
            }
        });
        var paid = await Count("SELECT count(*) FROM orders WHERE partner_id = @p AND status = 'paid'");

        await using var holder = new NpgsqlConnection(connection);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockLines = new NpgsqlCommand(
            """
            SELECT id FROM order_lines WHERE order_id IN (
                SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM orders WHERE partner_id = $1 AND status = 'pending') o
                WHERE n > 1000 AND n % 100 = 1)
            FOR UPDATE
            """,
            holder,
            hold)
        { Parameters = { new() { Value = partner.Id } } })
        {
            await lockLines.ExecuteNonQueryAsync();
        }

        // Every pending order falls due now, in id order (a minute apart would take too long to wait for).
        await Sql.ExecuteAsync(
            connection,
            """
            UPDATE orders SET expires_at = now() - interval '1 hour' + id * interval '1 microsecond',
                              next_change_due_at = now() - interval '1 hour' + id * interval '1 microsecond'
            WHERE partner_id = @p AND status = 'pending'
            """,
            ("p", partner.Id));

        long expiredAtKill;
        using (var victim = await ServiceProcess.StartAsync(connection, Settings))
        {
            await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 8, () => "Not every worker of the two processes had a batch in flight.");
            victim.Kill();
            expiredAtKill = await Count("SELECT count(*) FROM orders WHERE partner_id = @p AND status = 'cancelled'");
        }

        await hold.CommitAsync();
        Assert.InRange(expiredAtKill, 1, Orders - paid - 700);
        using (await ServiceProcess.StartAsync(connection, Settings))
        {
            await Eventually.TrueAsync(
                async () => await Count("SELECT count(*) FROM orders WHERE partner_id = @p AND status = 'pending'") == 0,
                () => "Not every unpaid order expired after the restart.");
        }

        // Changes = events: each unpaid order cancelled once, by the scheduler, for expiry; each paid one as it was.
        Assert.Equal(Orders - paid, await Count("""
            SELECT count(*) FROM orders
            WHERE partner_id = @p AND status = 'cancelled' AND version = 2 AND expires_at IS NULL AND next_change_due_at IS NULL
              AND jsonb_array_length(cancellations::jsonb) = 1
              AND cancellations::jsonb -> 0 ->> 'Actor' = 'scheduler' AND cancellations::jsonb -> 0 ->> 'Reason' = 'expired'
            """));
        Assert.Equal(Orders - paid, await Count("SELECT count(*) FROM order_events WHERE partner_id = @p AND type = 'order.cancelled'"));
        Assert.Equal(Orders - paid, await Count("SELECT count(DISTINCT order_id) FROM order_events WHERE partner_id = @p AND type = 'order.cancelled' AND actor = 'scheduler'"));
        Assert.Equal(paid, await Count("SELECT count(*) FROM orders WHERE partner_id = @p AND status = 'paid' AND version = 2"));

        async Task<long> Count(string sql) => await Sql.ScalarAsync<long>(connection, sql, ("p", partner.Id));
    }

    private Task<long> WaitingOnLocksAsync() =>
        Sql.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
}
