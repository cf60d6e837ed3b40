namespace OrderCancel.Api.Http;

/// <summary>
/// How many partner and admin requests this instance is answering right now (health, metrics and Swagger aside), so
/// that background work can make room for them: a bulk job runs one batch at a time while any request is in flight,
/// and all its workers when none is.
/// </summary>
public sealed class InteractiveLoad
{
    private int _inFlight;

    public bool Busy => Volatile.Read(ref _inFlight) > 0;

    /// <summary>Counts the request in while it runs.</summary>
    public async Task TrackAsync(HttpContext http, RequestDelegate next)
    {
        if (Telemetry.Telemetry.IsOperatorPath(http.Request.Path))
        {
            await next(http);
            return;
        }

        Interlocked.Increment(ref _inFlight);
        try
        {
            await next(http);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
