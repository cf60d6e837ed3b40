using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A job runs on two service processes; one is killed with SIGKILL mid-job and started again. Every selected order
/// ends processed exactly once: one outcome row each, one event for each change, and each change made once.
/// </summary>
/// <remarks>
/// A job of thousands takes well under a second here, so the kill cannot be timed by watching: the test holds a lock on
/// every hundredth order past the first thousand, and kills the process once all eight workers (four per process) wait
/// on those locks with their batches claimed: work in flight, by construction.
/// </remarks>
public sealed class CancellationJobCrashTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int Orders = 3000;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["RateLimiting__PermitsPerSecond"] = "100000",
        ["CancellationJobs__PollInterval"] = "00:00:00.200",
    };

    [Fact]
    public async Task After_a_kill_9_mid_job_every_selected_order_is_processed_exactly_once()
    {
        var partner = await database.NewPartnerAsync();
        var connection = database.ConnectionString;
        using var other = await ServiceProcess.StartAsync(connection, Settings);
        var client = other.Client(partner.Key);
        await Parallel.ForAsync(0, Orders, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var order = await client.CreateOrderAsync(NewOrder(i % 7 == 0 ? "recurring" : "one_time"));
            if (i % 10 == 0 && i % 7 != 0)
            {
                await client.PayAsync(order);
            }
        });
        var paid = await Sql.ScalarAsync<long>(connection, "SELECT count(*) FROM orders WHERE partner_id = @p AND status = 'paid'", ("p", partner.Id));

        await using var holder = new NpgsqlConnection(connection);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRows = new NpgsqlCommand(
            """
            SELECT id FROM orders WHERE id IN (
                SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM orders WHERE partner_id = $1) o WHERE n > 1000 AND n % 100 = 1)
            FOR UPDATE
            """,
            holder,
            hold)
        { Parameters = { new() { Value = partner.Id } } })
        {
            await lockRows.ExecuteNonQueryAsync();
        }

        Guid job;
        long processedAtKill;
        using (var victim = await ServiceProcess.StartAsync(connection, Settings))
        {
            job = await victim.Client(partner.Key).CreateJobAsync("""{"filter":{"created_from":"2000-01-01T00:00:00Z"},"reason":"fraud_suspected"}""");
            await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 8, () => "Not every worker of the two processes had a batch in flight.");
            victim.Kill();
            processedAtKill = await ProcessedAsync(job);
        }

        await hold.CommitAsync();
        Assert.InRange(processedAtKill, 1, Orders - 800);
        using (await ServiceProcess.StartAsync(connection, Settings))
        {
            var finished = await client.WaitForJobAsync(job);
            var counts = finished.GetProperty("counts");
            Assert.Equal(Orders, counts.GetProperty("matched").GetInt32());
            Assert.Equal(Orders, counts.GetProperty("processed").GetInt32());
            Assert.Equal(Orders - paid, counts.GetProperty("cancelled").GetInt32());
            Assert.Equal(paid, counts.GetProperty("refused_by_code").GetProperty("order_already_paid").GetInt32());
        }

        async Task<long> Count(string sql) => await Sql.ScalarAsync<long>(connection, sql, ("job", job), ("actor", $"job:{job}"), ("p", partner.Id));

        // One row per order of the partner, none pending.
        Assert.Equal(Orders, await Count("SELECT count(*) FROM cancellation_job_orders WHERE job_id = @job AND outcome <> 'pending'"));
        Assert.Equal(Orders, await Count("SELECT count(*) FROM cancellation_job_orders j JOIN orders o ON o.id = j.order_id AND o.partner_id = @p WHERE j.job_id = @job"));
        // Events = outcomes: each cancelled row names the one event the job wrote for its order, and there are no others.
        Assert.Equal(Orders - paid, await Count("SELECT count(*) FROM order_events WHERE actor = @actor AND order_id IS NOT NULL"));
        Assert.Equal(Orders - paid, await Count("""
            SELECT count(*) FROM cancellation_job_orders j
            JOIN order_events e ON e.id = j.event_id AND e.order_id = j.order_id AND e.actor = @actor AND e.type = 'order.cancelled'
            WHERE j.job_id = @job AND j.outcome = 'cancelled'
            """));
        // Changes = outcomes: each cancelled order was cancelled once, by the job; each paid one is as it was.
        Assert.Equal(Orders - paid, await Count("""
            SELECT count(*) FROM orders
            WHERE partner_id = @p AND status = 'cancelled' AND version = 2 AND jsonb_array_length(cancellations::jsonb) = 1
              AND cancellations::jsonb -> 0 ->> 'Actor' = @actor
            """));
        Assert.Equal(paid, await Count("SELECT count(*) FROM orders WHERE partner_id = @p AND status = 'paid' AND version = 2"));
        Assert.Equal(1, await Count("SELECT count(*) FROM order_events WHERE partner_id = @p AND type = 'cancellation_job.completed'"));
    }

    private Task<long> WaitingOnLocksAsync() =>
        Sql.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");

    private Task<long> ProcessedAsync(Guid job) =>
        Sql.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM cancellation_job_orders WHERE job_id = @job AND outcome <> 'pending'", ("job", job));
}
