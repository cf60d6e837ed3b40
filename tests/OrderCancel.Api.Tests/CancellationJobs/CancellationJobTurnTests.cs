using System.Net;
using OrderCancel.Api.Tests.Infrastructure;
using Xunit.Abstractions;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Running jobs take turns at the workers batch by batch, by partner and then by job: a partner's 200,000-order recall
/// does not hold another partner's 100 orders until it is done, nor a partner's large job its own small one. Until
/// they did, a 50-order job took 0.5 s alone and 16.4 s beside another partner's 200,000.
/// </summary>
/// <remarks>
/// The orders are copied in SQL (through HTTP, 200,000 would take minutes). Each job's time is the service's own:
/// from its <c>created_at</c> to its <c>finished_at</c>; the test waits on the database, not over HTTP, so that its
/// polling does not make the large job yield to requests (<c>InteractiveLoad</c>) and it runs on all four workers.
/// </remarks>
public sealed class CancellationJobTurnTests(ApiFactory api, ITestOutputHelper output) : IClassFixture<ApiFactory>
{
    private const int SmallJob = 100;

    /// <summary>Pairs of small jobs, one alone and one beside a large job; the medians are compared, so one slow moment of a shared machine does not decide.</summary>
    private const int Runs = 5;

    [Fact]
    public async Task A_100_order_job_beside_another_partners_200000_order_job_completes_within_twice_its_time_alone_and_a_quarter_second()
    {
        var recalling = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        await SeedAsync(recalling, 200_000);
        var ids = await SeedAsync(other, SmallJob * ((Runs * 2) + 1));

        // A first job, not counted: the service's first job runs its code for the first time (3.4 s against 0.3 once here).
        await RunAsync(other, ids[^SmallJob..]);

        // Timed in pairs, alone and then beside a 200,000-order job started for it (over the orders still pending), so
        // that each pair meets the machine in about the same state.
        List<double> alone = [], beside = [];
        for (var run = 0; run < Runs; run++)
        {
            alone.Add(await RunAsync(other, ids.Skip(2 * run * SmallJob).Take(SmallJob)));
            var recall = await recalling.Client.CreateJobAsync("""{"filter":{"status":"pending"},"reason":"out_of_stock"}""");
            string status;
            long processed, matched;
            try
            {
                await Eventually.TrueAsync(async () => await ProcessedAsync(recall) > 0, () => "The 200,000-order job never got under way.");
                beside.Add(await RunAsync(other, ids.Skip(((2 * run) + 1) * SmallJob).Take(SmallJob)));

                // The large job ran throughout: still running once the small one is done, most of it still to do.
                (status, processed) = await StateAsync(recall);
                matched = await Sql.ScalarAsync<long>(api.ConnectionString, "SELECT matched::bigint FROM cancellation_jobs WHERE id = @id", ("id", recall));
            }
            finally
            {
                await (await recalling.Client.PostAsync($"/v1/cancellation-jobs/{recall}/stop", null)).ShouldBeAsync(HttpStatusCode.OK);
            }

            Assert.Equal("running", status);
            Assert.InRange(matched, 190_000, 200_000);
            Assert.InRange(processed, 1, matched / 2);
        }

        output.WriteLine($"Medians: {Median(beside):0.000} s beside, {Median(alone):0.000} s alone ({Median(beside) / Median(alone):0.00} ×); beside {Describe(beside)}, alone {Describe(alone)}.");
        // Twice its time alone is the goal (docs/guarantees.md), and the median of most runs here; on two cores shared with the
        // large job's batches, PostgreSQL and this test, a 0.1-s job's median beside it ranged 1.25-2.6 × (docs/architecture.md),
        // so the bound adds a quarter second. Before jobs took turns it waited for the whole large job: minutes.
        Assert.True(
            Median(beside) <= (2 * Median(alone)) + 0.25,
            $"The 100-order jobs took {Describe(beside)} s beside the 200,000-order job, {Describe(alone)} s alone.");
    }

    [Fact]
    public async Task A_partners_small_job_completes_while_its_own_large_job_runs()
    {
        var partner = await api.NewPartnerAsync();
        var large = (await partner.Client.CreateOrderAsync(WithCustomer("recall-wide"))).Id();
        await api.CopyOrderAsync(large, 29_999);
        List<long> small = [];
        for (var i = 0; i < SmallJob; i++)
        {
            small.Add((await partner.Client.CreateOrderAsync()).Id());
        }

        var wide = await partner.Client.CreateJobAsync("""{"filter":{"customer_ref":"recall-wide"},"reason":"out_of_stock"}""");
        await Eventually.TrueAsync(async () => await ProcessedAsync(wide) > 0, () => "The 30,000-order job never got under way.");
        var narrow = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", small)}}],"reason":"out_of_stock"}""");

        string status;
        long processed;
        try
        {
            await WaitForAsync(narrow);
            (status, processed) = await StateAsync(wide);
        }
        finally
        {
            await (await partner.Client.PostAsync($"/v1/cancellation-jobs/{wide}/stop", null)).ShouldBeAsync(HttpStatusCode.OK);
        }

        Assert.True(status == "running" && processed < 30_000, $"The partner's 100-order job waited for its 30,000-order job ({status}, {processed} processed).");
        var done = await partner.Client.WaitForJobAsync(narrow);
        Assert.Equal(SmallJob, done.GetProperty("counts").GetProperty("cancelled").GetInt32());
    }

    /// <summary><paramref name="count"/> pending orders of the partner (one made through HTTP, the rest copies of it), their ids ascending.</summary>
    private async Task<long[]> SeedAsync(TestPartner partner, int count)
    {
        var template = (await partner.Client.CreateOrderAsync(NewOrder(lines: [Line("SKU-1", 1, 10m)]))).Id();
        await api.CopyOrderAsync(template, count - 1);
        return await Sql.ScalarAsync<long[]>(api.ConnectionString, "SELECT array_agg(id ORDER BY id) FROM orders WHERE partner_id = @p", ("p", partner.Id));
    }

    /// <summary>Runs a job cancelling <paramref name="orders"/> and answers how long it took, from its creation to its end.</summary>
    private async Task<double> RunAsync(TestPartner partner, IEnumerable<long> orders)
    {
        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{string.Join(",", orders)}}],"reason":"out_of_stock"}""");
        await WaitForAsync(job);
        Assert.Equal(SmallJob, (await partner.Client.WaitForJobAsync(job)).GetProperty("counts").GetProperty("cancelled").GetInt32());
        output.WriteLine(await Sql.ScalarAsync<string>(
            api.ConnectionString, "SELECT format('queued %s ms, ran %s ms', round(extract(epoch FROM started_at - created_at) * 1000), round(extract(epoch FROM finished_at - started_at) * 1000)) FROM cancellation_jobs WHERE id = @id", ("id", job)));
        return await Sql.ScalarAsync<double>(
            api.ConnectionString, "SELECT extract(epoch FROM finished_at - created_at)::float8 FROM cancellation_jobs WHERE id = @id", ("id", job));
    }

    /// <summary>Waits, on the database, until the job has finished (at most 30 s: the large jobs take minutes).</summary>
    private Task WaitForAsync(Guid job) =>
        Eventually.TrueAsync(
            async () => await Sql.ScalarAsync<string>(api.ConnectionString, "SELECT status FROM cancellation_jobs WHERE id = @id", ("id", job)) is not ("queued" or "running"),
            () => $"Job {job} did not finish within 30 s.");

    private async Task<(string Status, long Processed)> StateAsync(Guid job) =>
        (await Sql.ScalarAsync<string>(api.ConnectionString, "SELECT status FROM cancellation_jobs WHERE id = @id", ("id", job)), await ProcessedAsync(job));

    private Task<long> ProcessedAsync(Guid job) =>
        Sql.ScalarAsync<long>(api.ConnectionString, "SELECT coalesce(sum(orders), 0)::bigint FROM cancellation_job_tallies WHERE job_id = @id", ("id", job));

    private static System.Text.Json.Nodes.JsonObject WithCustomer(string reference)
    {
        var order = NewOrder(lines: [Line("SKU-1", 1, 10m)]);
        order["customer"]!["ref"] = reference;
        return order;
    }

    private static double Median(List<double> seconds) => seconds.Order().ElementAt(seconds.Count / 2);

    private static string Describe(List<double> seconds) => string.Join(", ", seconds.Select(s => s.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)));
}
