using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Http;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A job yields to requests, and a stop lands between batches: it waits for the batches in flight (their orders stay done), and no batch starts after
/// it. Four orders held locked by the test pin the four workers' first batches in flight, so the stop is mid-job.
/// </summary>
public sealed class CancellationJobStopTests(CancellationJobStopTests.Api api) : IClassFixture<CancellationJobStopTests.Api>
{
    private const int Orders = 600;

    [Fact]
    public async Task A_stop_waits_for_the_batches_in_flight_and_no_order_is_processed_after_it()
    {
        var partner = await api.NewPartnerAsync();
        var ids = await CreateOrdersAsync(partner, Orders);
        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await HoldAsync(holder, hold, [ids[0], ids[100], ids[200], ids[300]]);

        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", ids)}}],"reason":"out_of_stock"}""");
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 4, () => "The workers' first batches never waited on the held orders.");

        // Running: the answer says when to ask again (once stopped, WaitForJobAsync checks it no longer does).
        var running = await partner.Client.GetAsync($"/v1/cancellation-jobs/{job}");
        Assert.Equal("running", (await running.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("status").GetString());
        Assert.Equal(TimeSpan.FromSeconds(CancellationJobEndpoints.PollAfterSeconds), running.Headers.RetryAfter?.Delta);

        var stopping = partner.Client.PostAsync($"/v1/cancellation-jobs/{job}/stop", null);
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 5, () => "The stop did not wait for the batches in flight.");
        Assert.False(stopping.IsCompleted, "The stop answered while batches were still in flight.");
        await hold.CommitAsync();

        var stopped = await (await stopping).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal("stopped", stopped.GetProperty("status").GetString());
        await partner.Client.WaitForJobAsync(job, "stopped");
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

        // Unfiltered, pages of 7 run through the processed orders and then the pending ones (held in chunks), each once, in id order.
        var all = await partner.Client.JobResultsAsync(job);
        Assert.Equal(ids, all.Select(r => r.OrderId));
        Assert.Equal([.. Enumerable.Repeat("cancelled", 400), .. Enumerable.Repeat("pending", Orders - 400)], all.Select(r => r.Outcome));
        Assert.All(all.Skip(400), r => Assert.True(r.EventId is null && r.AmountReleased is null && r.Code is null));

        // A page from inside a chunk runs on into the next one.
        var fromInside = await (await partner.Client.GetAsync($"/v1/cancellation-jobs/{job}/results?limit=100&cursor={JobCursors.Encode(api.Services.GetRequiredService<Cursors>(), partner.Id, job, ids[449])}"))
            .ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(ids[450..550], fromInside.GetProperty("data").EnumerateArray().Select(row => row.GetProperty("order_id").GetInt64()));
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

    [Fact]
    public async Task While_a_request_is_in_flight_a_job_runs_one_batch_at_a_time_and_all_its_workers_once_none_is()
    {
        var partner = await api.NewPartnerAsync();
        var ids = await CreateOrdersAsync(partner, Orders);
        var other = (await partner.Client.CreateOrderAsync()).Id();
        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await HoldAsync(holder, hold, [ids[0], ids[100], ids[200], ids[300]]);
        await using var request = new NpgsqlConnection(api.ConnectionString);
        await request.OpenAsync();
        await using var holdRequest = await request.BeginTransactionAsync();
        await HoldAsync(request, holdRequest, [other]);

        // A request in flight until the test lets it go: a cancel waiting for its order's lock.
        var inFlight = partner.Client.CancelAsync(other, """{"reason":"customer_request"}""");
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 1, () => "The request never waited on its order.");
        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", ids)}}],"reason":"out_of_stock"}""");

        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 2, () => "The job's first batch never reached the held orders.");
        var most = 0L;
        for (var look = 0; look < 25; look++)
        {
            most = Math.Max(most, await WaitingOnLocksAsync());
            await Task.Delay(20);
        }

        Assert.Equal(2, most); // the request, and the job's one batch
        await holdRequest.CommitAsync();
        await (await inFlight).ShouldBeAsync(HttpStatusCode.OK);
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 4, () => "The other workers did not join once no request was in flight.");
        await hold.CommitAsync();
        Assert.Equal(Orders, (await partner.Client.WaitForJobAsync(job)).GetProperty("counts").GetProperty("cancelled").GetInt32());
    }

    [Fact]
    public async Task A_job_completes_while_a_request_stays_in_flight_throughout_pausing_after_each_batch_as_long_as_it_took()
    {
        var partner = await api.NewPartnerAsync();
        var ids = await CreateOrdersAsync(partner, 350);
        ConcurrentQueue<Activity> batches = [];
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Telemetry.Telemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "cancellation_job.batch")
                {
                    batches.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var other = (await partner.Client.CreateOrderAsync()).Id();
        await using var request = new NpgsqlConnection(api.ConnectionString);
        await request.OpenAsync();
        await using var holdRequest = await request.BeginTransactionAsync();
        await HoldAsync(request, holdRequest, [other]);
        var inFlight = partner.Client.CancelAsync(other, """{"reason":"customer_request"}""");
        await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() >= 1, () => "The request never waited on its order.");

        // The workers making room for the request must still see the job's orders run out, and the job end.
        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", ids)}}],"reason":"out_of_stock"}""");
        var done = await partner.Client.WaitForJobAsync(job);
        Assert.False(inFlight.IsCompleted, "The request ended before the job: it was not in flight throughout.");
        Assert.Equal(ids.Length, done.GetProperty("counts").GetProperty("cancelled").GetInt32());

        // One batch at a time, each full one followed by a pause at least as long as its span (the pause is as long as
        // its whole transaction took), so a job under steady traffic takes at most about half of one worker's time.
        var spans = batches.Where(b => Equals(b.GetTagItem("ordercancel.job.id"), job)).OrderBy(b => b.StartTimeUtc).ToList();
        Assert.Equal(4, spans.Count);
        foreach (var (batch, next) in spans.Zip(spans.Skip(1)))
        {
            var pause = next.StartTimeUtc - (batch.StartTimeUtc + batch.Duration);
            Assert.True(pause >= batch.Duration - TimeSpan.FromMilliseconds(1), $"A batch of {batch.Duration.TotalMilliseconds} ms was followed by a pause of {pause.TotalMilliseconds} ms.");
        }

        await holdRequest.CommitAsync();
        await (await inFlight).ShouldBeAsync(HttpStatusCode.OK);
    }

    private static async Task<long[]> CreateOrdersAsync(TestPartner partner, int count)
    {
        var ids = new long[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            ids[i] = (await partner.Client.CreateOrderAsync()).Id());
        Array.Sort(ids);
        return ids;
    }

    private static async Task HoldAsync(NpgsqlConnection holder, NpgsqlTransaction hold, long[] held)
    {
        await using var lockRows = new NpgsqlCommand("SELECT id FROM orders WHERE id = ANY($1) FOR UPDATE", holder, hold) { Parameters = { new() { Value = held } } };
        await lockRows.ExecuteNonQueryAsync();
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
