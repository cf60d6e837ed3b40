using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using OrderCancel.Api.Scheduling;

namespace OrderCancel.Api.Tests;

/// <summary>What a bulk job's waiting workers go by: requests in flight, and the traffic's end a quiet period after the last of them.</summary>
public sealed class InteractiveLoadTests
{
    private static readonly string[] OperatorPaths = ["/health/ready", "/metrics", "/swagger/index.html"];

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Requests_one_after_another_keep_the_traffic_busy_until_fewer_than_two_ended_in_the_quiet_period()
    {
        var load = new InteractiveLoad(Quiet);
        Assert.False(load.Busy);
        Assert.True(load.WhenQuietAsync(CancellationToken.None).IsCompleted);
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();

        var one = load.TrackAsync(Request("/v1/orders/1"), _ => first.Task);
        Assert.True(load.Busy);
        first.SetResult();
        await one;
        var firstEnded = Stopwatch.GetTimestamp();

        // None in flight, and a second request comes: under steady traffic that was the gap between two.
        var other = load.TrackAsync(Request("/v1/events"), _ => second.Task);
        var quiet = load.WhenQuietAsync(CancellationToken.None);
        Assert.True(load.Busy);
        second.SetResult();
        await other;
        Assert.True(load.Busy);
        Assert.False(quiet.IsCompleted);

        await quiet.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(
            Stopwatch.GetElapsedTime(firstEnded) >= Quiet - TimeSpan.FromMilliseconds(1),
            $"Quiet {Stopwatch.GetElapsedTime(firstEnded).TotalMilliseconds} ms after the first of the two requests ended.");
        Assert.False(load.Busy);
    }

    [Fact]
    public async Task A_lone_request_holds_the_work_back_only_while_it_is_in_flight()
    {
        var load = new InteractiveLoad(Quiet);
        var held = new TaskCompletionSource();
        var request = load.TrackAsync(Request("/v1/cancellation-jobs/1"), _ => held.Task);
        var quiet = load.WhenQuietAsync(CancellationToken.None);
        await Task.Delay(Quiet + Quiet);
        Assert.False(quiet.IsCompleted, "Quiet while a request was in flight.");
        Assert.True(load.Busy);

        held.SetResult();
        await request;
        Assert.False(load.Busy);
        await quiet.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_wait_for_quiet_ends_when_cancelled()
    {
        var load = new InteractiveLoad(Quiet);
        var held = new TaskCompletionSource();
        var request = load.TrackAsync(Request("/v1/orders/1"), _ => held.Task);
        using var cancel = new CancellationTokenSource();
        var quiet = load.WhenQuietAsync(cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quiet.WaitAsync(TimeSpan.FromSeconds(10)));
        held.SetResult();
        await request;
    }

    [Fact]
    public async Task A_request_that_fails_still_leaves_the_count()
    {
        var load = new InteractiveLoad(TimeSpan.Zero);
        await Assert.ThrowsAsync<InvalidOperationException>(() => load.TrackAsync(Request("/v1/orders"), _ => throw new InvalidOperationException("boom")));
        Assert.False(load.Busy);
        Assert.True(load.WhenQuietAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task Health_metrics_and_Swagger_are_not_interactive_load()
    {
        var load = new InteractiveLoad(Quiet);
        var held = new TaskCompletionSource();
        var probes = OperatorPaths.Select(path => load.TrackAsync(Request(path), _ => held.Task)).ToList();
        Assert.False(load.Busy);
        Assert.True(load.WhenQuietAsync(CancellationToken.None).IsCompleted);
        held.SetResult();
        await Task.WhenAll(probes);
        Assert.False(load.Busy);
    }

    private static DefaultHttpContext Request(string path) => new() { Request = { Path = path } };
}
