using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A stop lands between batches: it waits for the batches in flight (their orders stay done), and no batch starts after
/// it. Four orders held locked by the test pin the four workers' first batches in flight, so the stop is mid-job.
/// </summary>
public sealed class CancellationJobStopTests(CancellationJobStopTests.Api api) : IClassFixture<CancellationJobStopTests.Api>
{
    private const int Orders = 600;

    [Fact]
    public async Task A_stop_waits_for_the_batches_in_flight_and_no_order_is_processed_after_it()
    {
        var partner = await api.NewPartnerAsync();
        var ids = new long[Orders];
        await Parallel.ForAsync(0, Orders, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            ids[i] = (await partner.Client.CreateOrderAsync()).Id());
        Array.Sort(ids);

        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        long[] held = [ids[0], ids[100], ids[200], ids[300]];
        await using (var lockRows = new NpgsqlCommand("SELECT id FROM orders WHERE id = ANY($1) FOR UPDATE", holder, hold) { Parameters = { new() { Value = held } } })
        {
            await lockRows.ExecuteNonQueryAsync();
        }

        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", ids)}}],"reason":"out_of_stock"}""");
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 4, () => "The workers' first batches never waited on the held orders.");

        var stopping = partner.Client.PostAsync($"/v1/cancellation-jobs/{job}/stop", null);
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 5, () => "The stop did not wait for the batches in flight.");
        Assert.False(stopping.IsCompleted, "The stop answered while batches were still in flight.");
        await hold.CommitAsync();

        var stopped = await (await stopping).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal("stopped", stopped.GetProperty("status").GetString());
        var counts = stopped.GetProperty("counts");
        Assert.Equal(Orders, counts.GetProperty("matched").GetInt32());
        Assert.Equal(400, counts.GetProperty("processed").GetInt32());
        Assert.Equal(400, counts.GetProperty("cancelled").GetInt32());

        // Rounds after the stop find nothing to do: the rest stay pending, their orders untouched.
        var worker = api.Services.GetServices<IHostedService>().OfType<CancellationJobWorker>().Single();
        var after = DateTimeOffset.UtcNow;
        await Eventually.TrueAsync(() => worker.LastRoundAsOf > after.AddMilliseconds(300), () => "The job worker ran no round after the stop.");
        var pending = await partner.Client.JobResultsAsync(job, "pending");
        Assert.Equal(ids[400..], pending.Select(r => r.OrderId));
        foreach (var id in new[] { ids[400], ids[^1] })
        {
            Assert.Equal("order.created", (await api.StateAsync(id)).Events);
        }

        var again = await (await partner.Client.PostAsync($"/v1/cancellation-jobs/{job}/stop", null)).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(Jobs.Totals(stopped), Jobs.Totals(again));
        Assert.Equal(stopped.GetProperty("finished_at").GetString(), again.GetProperty("finished_at").GetString());
        Assert.Equal(1, await Sql.ScalarAsync<long>(api.ConnectionString, "SELECT count(*) FROM order_events WHERE type LIKE 'cancellation_job.%'"));
        Assert.Equal("cancellation_job.stopped", await Sql.ScalarAsync<string>(api.ConnectionString, "SELECT type FROM order_events WHERE type LIKE 'cancellation_job.%'"));
    }

    private Task<long> WaitingOnLocksAsync() =>
        Sql.ScalarAsync<long>(
            api.ConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");

    public sealed class Api : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["RateLimiting:PermitsPerSecond"] = "100000",
            ["CancellationJobs:PollInterval"] = "00:00:00.100",
        };
    }
}
