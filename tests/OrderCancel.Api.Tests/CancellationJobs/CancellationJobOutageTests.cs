using System.Net;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The database goes away in the middle of a job, with its batches in flight on background work's own connections
/// (pinned on orders the test holds locked), and comes back: the job goes on where it was, and ends with each order
/// processed once.
/// </summary>
public sealed class CancellationJobOutageTests(CancellationJobOutageTests.Api api) : IClassFixture<CancellationJobOutageTests.Api>
{
    private const int Orders = 600;

    [Fact]
    public async Task A_job_cut_off_from_the_database_mid_way_completes_once_it_is_back_each_order_once()
    {
        var partner = await api.NewPartnerAsync();
        var ids = new long[Orders];
        await Parallel.ForAsync(0, Orders, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            ids[i] = (await partner.Client.CreateOrderAsync()).Id());
        Array.Sort(ids);

        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        var hold = await holder.BeginTransactionAsync();
        await using (var lockRows = new NpgsqlCommand("SELECT id FROM orders WHERE id = ANY($1) FOR UPDATE", holder, hold)
        {
            Parameters = { new() { Value = new[] { ids[0], ids[100], ids[200], ids[300] } } },
        })
        {
            await lockRows.ExecuteNonQueryAsync();
        }

        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", ids)}}],"reason":"out_of_stock"}""");
        await Eventually.TrueAsync(async () => await BatchesWaitingAsync() >= 1, () => "No batch of the job waited on the held orders.");

        api.Proxy.Cut();
        // The cut batches' backends wait on the held orders until they are let go, then find their client gone.
        await hold.RollbackAsync();
        await Eventually.TrueAsync(async () => await BatchesWaitingAsync() == 0, () => "The cut batches' backends kept waiting.");
        api.Proxy.Restore();

        // The requests' pool still holds connections the cut closed: each answers one request 503, as a partner retries.
        await Eventually.TrueAsync(
            async () => (await partner.Client.GetAsync($"/v1/cancellation-jobs/{job}")).StatusCode == HttpStatusCode.OK,
            () => "The service did not answer again once the database was back.");
        var done = await partner.Client.WaitForJobAsync(job);
        Assert.Equal(Orders, done.GetProperty("counts").GetProperty("processed").GetInt32());
        Assert.Equal(Orders, done.GetProperty("counts").GetProperty("cancelled").GetInt32());
        var results = await partner.Client.JobResultsAsync(job);
        Assert.Equal(ids, results.Select(r => r.OrderId));
        Assert.Equal(Orders, await Sql.ScalarAsync<long>(
            api.ConnectionString, "SELECT count(*) FROM order_events WHERE order_id = ANY(@ids) AND type = 'order.cancelled'", ("ids", ids)));
        Assert.Equal(1, await Sql.ScalarAsync<long>(
            api.ConnectionString, "SELECT count(*) FROM order_events WHERE type = 'cancellation_job.completed' AND data::jsonb -> 'job' ->> 'id' = @job", ("job", job.ToString())));
    }

    private Task<long> BatchesWaitingAsync() =>
        Sql.ScalarAsync<long>(
            api.ConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'OrderCancel background'");

    public sealed class Api : RequestLogTests.ProxiedApi
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
        {
            ["RateLimiting:PermitsPerSecond"] = "100000",
            ["CancellationJobs:PollInterval"] = "00:00:00.100",
        };
    }
}
