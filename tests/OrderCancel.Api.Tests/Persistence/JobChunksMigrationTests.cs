using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A deploy can land while a job runs: the migration that moved a job's pending orders from a row each into chunks
/// must carry them over, none lost, none doubled, and what was processed left as it was (and back, on a downgrade).
/// </summary>
public sealed class JobChunksMigrationTests : IAsyncLifetime
{
    private const string Before = "20261202111220_OrderLinesBySku";
    private const string Chunks = "20261203152507_JobChunks";

    private readonly string _server = Environment.GetEnvironmentVariable("ConnectionStrings__Orders")
        ?? throw new InvalidOperationException("No PostgreSQL configured: run ./scripts/test.sh, or set ConnectionStrings__Orders.");

    private readonly string _database = $"oc_migration_{Guid.NewGuid():N}";

    private string ConnectionString => new NpgsqlConnectionStringBuilder(_server) { Database = _database }.ConnectionString;

    [Fact]
    public async Task Pending_orders_of_a_job_in_flight_move_into_chunks_of_100_and_back()
    {
        await using var db = new OrdersDbContext(new DbContextOptionsBuilder<OrdersDbContext>()
            .UseNpgsql(ConnectionString).UseSnakeCaseNamingConvention().Options);
        var migrator = db.GetService<IMigrator>();
        await migrator.MigrateAsync(Before);

        var running = Guid.NewGuid();
        var untouched = Guid.NewGuid();
        await Sql.ExecuteAsync(ConnectionString, """
            INSERT INTO cancellation_job_orders (job_id, order_id, outcome)
            SELECT @running, g, CASE WHEN g <= 30 THEN 'cancelled' ELSE 'pending' END FROM generate_series(1, 250) AS g;
            INSERT INTO cancellation_job_orders (job_id, order_id, outcome)
            SELECT @untouched, g, 'pending' FROM generate_series(1000, 1099) AS g;
            """, ("running", running), ("untouched", untouched));

        await migrator.MigrateAsync(Chunks);

        Assert.Equal("31-130:100 131-230:100 231-250:20", await ChunksAsync(running));
        Assert.Equal("1000-1099:100", await ChunksAsync(untouched));
        Assert.Equal(30, await Sql.ScalarAsync<long>(ConnectionString, "SELECT count(*) FROM cancellation_job_orders WHERE job_id = @job AND outcome = 'cancelled'", ("job", running)));
        Assert.Equal(30, await Sql.ScalarAsync<long>(ConnectionString, "SELECT count(*) FROM cancellation_job_orders"));

        await migrator.MigrateAsync(Before);

        Assert.Equal(220, await Sql.ScalarAsync<long>(ConnectionString, "SELECT count(*) FROM cancellation_job_orders WHERE job_id = @job AND outcome = 'pending'", ("job", running)));
        Assert.Equal(100, await Sql.ScalarAsync<long>(ConnectionString, "SELECT count(*) FROM cancellation_job_orders WHERE job_id = @job AND outcome = 'pending'", ("job", untouched)));
        Assert.Equal(350, await Sql.ScalarAsync<long>(ConnectionString, "SELECT count(DISTINCT (job_id, order_id)) FROM cancellation_job_orders"));
    }

    /// <summary>The job's chunks as "first-last:count", in order.</summary>
    private Task<string> ChunksAsync(Guid job) =>
        Sql.ScalarAsync<string>(ConnectionString, """
            SELECT string_agg(first_order_id || '-' || order_ids[cardinality(order_ids)] || ':' || cardinality(order_ids), ' ' ORDER BY first_order_id)
            FROM cancellation_job_chunks WHERE job_id = @job
              AND order_ids = (SELECT array_agg(id ORDER BY id) FROM unnest(order_ids) AS ids(id))
            """, ("job", job));

    public async Task InitializeAsync()
    {
        await using var connection = new NpgsqlConnection(_server);
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_database}\"", connection);
        await create.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_server);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_database}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
