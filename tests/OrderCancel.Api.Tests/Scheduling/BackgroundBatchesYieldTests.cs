using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The batch loop a job runs in makes room for requests: one worker while they come in, all of them once they have
/// stopped. Under steady traffic the count of requests in flight touches zero between one response and the next
/// request; the idle workers joined in at each such instant, four batches at once beside the requests.
/// </summary>
public sealed class BackgroundBatchesYieldTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Requests_one_after_another_keep_the_work_on_one_worker_and_all_join_once_they_stop()
    {
        var load = new InteractiveLoad(Quiet);
        var background = database.Services.GetRequiredService<BackgroundDatabase>();

        // Requests of 2 ms, each 5 ms after the one before it ended: none in flight in between.
        using var traffic = new CancellationTokenSource();
        var requests = Task.Run(async () =>
        {
            while (!traffic.IsCancellationRequested)
            {
                await load.TrackAsync(new DefaultHttpContext { Request = { Path = "/v1/orders/1" } }, _ => Task.Delay(2));
                await Task.Delay(5);
            }
        });
        await Eventually.TrueAsync(() => Task.FromResult(load.Busy), () => "The traffic never started.");

        var stopped = false;
        int running = 0, batches = 0, mostWithTraffic = 0, mostAfter = 0;
        var work = BackgroundBatches.RunAsync(
            background,
            async (db, token) =>
            {
                var side = Interlocked.Increment(ref running);
                if (Volatile.Read(ref stopped))
                {
                    Peak.Raise(ref mostAfter, side);
                }
                else
                {
                    Peak.Raise(ref mostWithTraffic, side);
                }

                await db.Database.ExecuteSqlRawAsync("SELECT pg_sleep(0.02)", token);
                Interlocked.Decrement(ref running);
                var done = Interlocked.Increment(ref batches);
                var more = done < 1000 && Volatile.Read(ref mostAfter) < BackgroundBatches.Workers;
                return (more, done);
            },
            done => done,
            CancellationToken.None,
            load);

        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref batches) >= 15), () => "The work made no progress beside the requests.");
        await traffic.CancelAsync();
        await requests;
        Volatile.Write(ref stopped, true);
        await work.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, mostWithTraffic);
        Assert.Equal(BackgroundBatches.Workers, mostAfter);
    }
}
