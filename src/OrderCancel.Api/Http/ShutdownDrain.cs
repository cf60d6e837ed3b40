namespace OrderCancel.Api.Http;

/// <summary>
/// How an instance behind a load balancer stops without failing a request (a rolling restart, a scale-in): on SIGTERM
/// it first fails <c>/health/ready</c> and goes on serving for <c>Shutdown:DrainDelay</c> (default 5 s; set it to at
/// least the balancer's check interval × the failures it needs), so the balancer takes it out of rotation while it still
/// answers; then the host stops as usual, Kestrel finishing the requests in flight. Zero stops at once (one instance, tests).
/// </summary>
public sealed class ShutdownDrain(IConfiguration configuration, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    private volatile bool _draining;

    /// <summary>The instance is stopping: readiness fails, requests are still served.</summary>
    public bool IsDraining => _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var delay = configuration.GetValue("Shutdown:DrainDelay", TimeSpan.FromSeconds(5));
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        _draining = true;
        logger.LogInformation("Stopping: readiness fails from now, and requests are served for {Seconds:0.#} s more while the load balancer takes this instance out", delay.TotalSeconds);
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout: stop now.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
