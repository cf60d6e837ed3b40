namespace OrderCancel.Api.Http;

/// <summary>
/// How many partner and admin requests this instance is answering right now (health, metrics and Swagger aside), so
/// that background work can make room for them: a bulk job runs one batch at a time while any request is in flight,
/// and all its workers when none is.
/// </summary>
public sealed class InteractiveLoad
{
    private readonly Lock _gate = new();
    private int _inFlight;
    private TaskCompletionSource _idle = Idle();

    public bool Busy => Volatile.Read(ref _inFlight) > 0;

    /// <summary>
    /// Completes once no request is in flight (at once when none is). A worker that made room waits for this rather
    /// than for a fixed pause: a partner polling its job's progress every 100 ms kept a pause of 20 ms from every other
    /// batch it happened to meet, for a request of a few milliseconds.
    /// </summary>
    public Task WhenIdle
    {
        get
        {
            lock (_gate)
            {
                return _idle.Task;
            }
        }
    }

    /// <summary>Counts the request in while it runs.</summary>
    public async Task TrackAsync(HttpContext http, RequestDelegate next)
    {
        if (Telemetry.Telemetry.IsOperatorPath(http.Request.Path))
        {
            await next(http);
            return;
        }

        Enter();
        try
        {
            await next(http);
        }
        finally
        {
            Leave();
        }
    }

    private void Enter()
    {
        lock (_gate)
        {
            if (_inFlight++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    private void Leave()
    {
        TaskCompletionSource? nowIdle = null;
        lock (_gate)
        {
            if (--_inFlight == 0)
            {
                nowIdle = _idle;
            }
        }

        nowIdle?.TrySetResult();
    }

    private static TaskCompletionSource Idle()
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        idle.SetResult();
        return idle;
    }
}
