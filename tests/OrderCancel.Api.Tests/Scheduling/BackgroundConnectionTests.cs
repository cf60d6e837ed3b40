using System.Net;
using Microsoft.Extensions.Configuration;
using Npgsql;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Background work connects on a pool of its own: a job's batch holds its connection for its whole transaction, and on
/// the requests' pool (here one connection, as small as a pool sized to a database's cores gets) the requests queued
/// behind it until the pool's timeout answered them 503.
/// </summary>
public sealed class BackgroundConnectionTests(BackgroundConnectionTests.Api api) : IClassFixture<BackgroundConnectionTests.Api>
{
    private const string BackgroundName = "OrderCancel background";

    [Fact]
    public async Task Requests_are_answered_on_a_pool_of_one_while_a_jobs_batches_hold_theirs()
    {
        var partner = await api.NewPartnerAsync();
        var ids = new long[200];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = (await partner.Client.CreateOrderAsync()).Id();
        }

        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRows = new NpgsqlCommand("SELECT id FROM orders WHERE id = ANY($1) FOR UPDATE", holder, hold) { Parameters = { new() { Value = new[] { ids[0], ids[100] } } } })
        {
            await lockRows.ExecuteNonQueryAsync();
        }

        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", ids)}}],"reason":"out_of_stock"}""");
        await Eventually.TrueAsync(async () => await BatchesWaitingAsync() >= 1, () => "No batch of the job waited on the held orders.");

        // Each answers at once, though a batch holds a connection, and none of the requests' pool waits on a lock.
        for (var i = 0; i < 5; i++)
        {
            await (await partner.Client.GetAsync($"/v1/orders/{ids[150 + i]}")).ShouldBeAsync(HttpStatusCode.OK);
            var running = await (await partner.Client.GetAsync($"/v1/cancellation-jobs/{job}")).ShouldBeAsync(HttpStatusCode.OK);
            Assert.Equal("running", running.GetProperty("status").GetString());
        }

        Assert.Equal(0, await Sql.ScalarAsync<long>(
            api.ConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name <> @name",
            ("name", BackgroundName)));
        Assert.True(
            await BatchesOpenAsync() <= BackgroundBatches.Workers,
            $"Background work held {await BatchesOpenAsync()} connections, more than its {BackgroundBatches.Workers}.");

        await hold.CommitAsync();
        Assert.Equal(ids.Length, (await partner.Client.WaitForJobAsync(job)).GetProperty("counts").GetProperty("cancelled").GetInt32());
    }

    [Fact]
    public void Background_works_string_is_the_requests_with_a_name_and_a_pool_of_its_own()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Orders"] = "Host=db.example;Database=orders;Username=svc;Maximum Pool Size=20;Minimum Pool Size=10;Timeout=7",
            })
            .Build();

        var requests = new NpgsqlConnectionStringBuilder(Database.ConnectionString(configuration));
        var background = new NpgsqlConnectionStringBuilder(Database.BackgroundConnectionString(configuration));

        Assert.Equal(("db.example", "orders", "svc", 7), (background.Host, background.Database, background.Username, background.Timeout));
        Assert.Equal(BackgroundName, background.ApplicationName);
        Assert.Equal(BackgroundBatches.Workers, background.MaxPoolSize);
        Assert.Equal(BackgroundBatches.Workers, background.MinPoolSize);
        Assert.Equal((20, 10), (requests.MaxPoolSize, requests.MinPoolSize));
        Assert.NotEqual(requests.ConnectionString, background.ConnectionString);
    }

    private Task<long> BatchesWaitingAsync() =>
        Sql.ScalarAsync<long>(
            api.ConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = @name",
            ("name", BackgroundName));

    private Task<long> BatchesOpenAsync() =>
        Sql.ScalarAsync<long>(
            api.ConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = @name",
            ("name", BackgroundName));

    public sealed class Api : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            // One connection for requests, and a short wait for it: on a shared pool a request queued behind a held
            // batch would be a 503 in 2 s.
            ["ConnectionStrings:Orders"] = new NpgsqlConnectionStringBuilder(ConnectionString) { MaxPoolSize = 1, Timeout = 2 }.ConnectionString,
            ["RateLimiting:PermitsPerSecond"] = "100000",
            ["CancellationJobs:PollInterval"] = "00:00:00.100",
        };
    }
}
