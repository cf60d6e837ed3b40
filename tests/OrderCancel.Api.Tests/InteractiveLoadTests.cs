using Microsoft.AspNetCore.Http;
using OrderCancel.Api.Http;

namespace OrderCancel.Api.Tests;

/// <summary>What a bulk job's waiting workers go by: requests in flight, and the moment the last of them ends.</summary>
public sealed class InteractiveLoadTests
{
    private static readonly string[] OperatorPaths = ["/health/ready", "/metrics", "/swagger/index.html"];

    [Fact]
    public async Task WhenIdle_completes_only_once_the_last_request_in_flight_has_ended()
    {
        var load = new InteractiveLoad();
        Assert.True(load.WhenIdle.IsCompleted);
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();

        var one = load.TrackAsync(Request("/v1/orders/1"), _ => first.Task);
        var other = load.TrackAsync(Request("/v1/events"), _ => second.Task);
        var idle = load.WhenIdle;
        Assert.True(load.Busy);
        Assert.False(idle.IsCompleted);

        first.SetResult();
        await one;
        Assert.True(load.Busy);
        Assert.False(idle.IsCompleted);
        Assert.False(load.WhenIdle.IsCompleted);

        second.SetResult();
        await other;
        await idle.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(load.Busy);
        Assert.True(load.WhenIdle.IsCompleted);
    }

    [Fact]
    public async Task A_request_that_fails_still_leaves_the_count()
    {
        var load = new InteractiveLoad();
        await Assert.ThrowsAsync<InvalidOperationException>(() => load.TrackAsync(Request("/v1/orders"), _ => throw new InvalidOperationException("boom")));
        Assert.False(load.Busy);
        Assert.True(load.WhenIdle.IsCompleted);
    }

    [Fact]
    public async Task Health_metrics_and_Swagger_are_not_interactive_load()
    {
        var load = new InteractiveLoad();
        var held = new TaskCompletionSource();
        var probes = OperatorPaths.Select(path => load.TrackAsync(Request(path), _ => held.Task)).ToList();
        Assert.False(load.Busy);
        Assert.True(load.WhenIdle.IsCompleted);
        held.SetResult();
        await Task.WhenAll(probes);
    }

    private static DefaultHttpContext Request(string path) => new() { Request = { Path = path } };
}
