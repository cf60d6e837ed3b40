using System.Diagnostics;

namespace OrderCancel.Api.Scheduling;

/// <summary>
/// How many partner and admin requests this instance is answering right now (health, metrics and Swagger aside), so
/// that background work can make room for them: a bulk job runs one batch at a time while requests come in, and all
/// its workers once the traffic is quiet (<see cref="QuietPeriod"/>).
/// </summary>
public sealed class InteractiveLoad
{
    /// <summary>
    /// The traffic is quiet when no request is in flight and fewer than two ended in the last quiet period. Under steady
    /// traffic the count in flight touches zero between one response and the next request: a bulk job's idle workers
    /// that joined in at each such instant ran four batches at once beside the requests, and single-order gets in those
    /// moments had a p99 of 20–35 ms against 9–13 ms beside its one worker (bench/HISTORY.md). A lone request (a partner
    /// polling its job every second) holds the work back only while it is in flight.
    /// </summary>
    public static readonly TimeSpan DefaultQuietPeriod = TimeSpan.FromMilliseconds(50);

    private readonly Lock _gate = new();
    private int _inFlight;
    private long _lastEnded = long.MinValue;
    private long _endedBefore = long.MinValue;
    private TaskCompletionSource _idle = Idle();

    public InteractiveLoad()
        : this(DefaultQuietPeriod)
    {
    }

    public InteractiveLoad(TimeSpan quietPeriod) => QuietPeriod = quietPeriod;

    public TimeSpan QuietPeriod { get; }

    /// <summary>A request is in flight, or two or more ended in the last <see cref="QuietPeriod"/>.</summary>
    public bool Busy
    {
        get
        {
            lock (_gate)
            {
                return _inFlight > 0 || QuietIn() > TimeSpan.Zero;
            }
        }
    }

    /// <summary>
    /// Completes once the traffic is quiet (at once when it is): none in flight, and fewer than two ended in the last
    /// <see cref="QuietPeriod"/>. A worker that made room waits for this rather than for a fixed pause: a partner
    /// polling its job's progress every 100 ms kept a pause of 20 ms from every other batch it happened to meet, for a
    /// request of a few milliseconds.
    /// </summary>
    public async Task WhenQuietAsync(CancellationToken cancellation)
    {
        while (true)
        {
            Task idle;
            TimeSpan remaining;
            lock (_gate)
            {
                idle = _idle.Task;
                remaining = QuietIn();
            }

            if (!idle.IsCompleted)
            {
                await idle.WaitAsync(cancellation);
            }
            else if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining, cancellation);
            }
            else
            {
                return;
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

    /// <summary>How long until fewer than two requests ended in the last quiet period (zero or less once so); call under the gate.</summary>
    private TimeSpan QuietIn() =>
        _endedBefore == long.MinValue ? TimeSpan.Zero : QuietPeriod - Stopwatch.GetElapsedTime(_endedBefore);

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
            (_endedBefore, _lastEnded) = (_lastEnded, Stopwatch.GetTimestamp());
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
