using System.Diagnostics;
using System.Net;
using System.Reflection;

namespace OrderCancel.Client;

/// <summary>
/// The client's HTTP behaviour, in one <see cref="DelegatingHandler"/> (the client adds it itself; with
/// <c>AddOrderCancelClient</c> it is in the factory's pipeline):
/// <list type="bullet">
/// <item>every POST and DELETE gets an <c>Idempotency-Key</c> (unless it has one), made once per call: each retry of the
/// call sends the same key, so a call retried after its answer was lost applies once;</item>
/// <item>a call is retried only where that is safe: a lost connection, 408, 429 and 503 (after <c>Retry-After</c>), 502
/// and 504 (a gateway that lost the service's answer), and 409 <c>idempotency_key_in_use</c> (the first try is still
/// running). Never a 400, 401, 403, 404, 412 or 422: those answer the same however often they are sent;</item>
/// <item>backoff doubles from <see cref="OrderCancelClientOptions.FirstBackoff"/> with jitter, bounded by
/// <see cref="OrderCancelClientOptions.MaxRetries"/> and <see cref="OrderCancelClientOptions.RetryDeadline"/>; past
/// either, the last answer (or the lost connection's exception) is the call's;</item>
/// <item>a <c>User-Agent</c> naming the library and its version.</item>
/// </list>
/// </summary>
public sealed class SafeRetryHandler(OrderCancelClientOptions options) : DelegatingHandler
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary><c>OrderCancel.Client/&lt;version&gt;</c>, and the runtime's.</summary>
    public static readonly string UserAgent =
        $"OrderCancel.Client/{typeof(SafeRetryHandler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0"} (.NET {Environment.Version})";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.UserAgent.Clear();
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        if ((request.Method == HttpMethod.Post || request.Method == HttpMethod.Delete) && !request.Headers.Contains(IdempotencyKeyHeader))
        {
            request.Headers.Add(IdempotencyKeyHeader, Guid.NewGuid().ToString());
        }

        if (request.Content is not null)
        {
            // Sent again on a retry: the same bytes.
            await BufferAsync(request.Content, cancellationToken).ConfigureAwait(false);
        }

        var started = Stopwatch.GetTimestamp();
        for (var retry = 0; ; retry++)
        {
            HttpResponseMessage? response = null;
            HttpRequestException? lost = null;
            try
            {
                response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException exception) when (!cancellationToken.IsCancellationRequested)
            {
                lost = exception;
            }

            var wait = response is null ? Backoff(retry) : await RetryAfterAsync(response, retry, cancellationToken).ConfigureAwait(false);
            if (wait is not { } delay || retry >= options.MaxRetries || Stopwatch.GetElapsedTime(started) + delay > options.RetryDeadline)
            {
                return response ?? throw lost!;
            }

            response?.Dispose();
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>How long to wait before trying <paramref name="response"/>'s call again; null when it must not be.</summary>
    private async Task<TimeSpan?> RetryAfterAsync(HttpResponseMessage response, int retry, CancellationToken cancellationToken)
    {
        switch (response.StatusCode)
        {
            case HttpStatusCode.RequestTimeout or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout:
                return Backoff(retry);
            case HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable:
                return response.Headers.RetryAfter switch
                {
                    { Delta: { } delta } => delta,
                    { Date: { } date } => date - DateTimeOffset.UtcNow is var until && until > TimeSpan.Zero ? until : TimeSpan.Zero,
                    _ => Backoff(retry),
                };
            case HttpStatusCode.Conflict:
                await BufferAsync(response.Content, cancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                return body.Contains("\"idempotency_key_in_use\"", StringComparison.Ordinal) ? Backoff(retry) : null;
            default:
                return null;
        }
    }

    private static Task BufferAsync(HttpContent content, CancellationToken cancellationToken) =>
#if NET9_0_OR_GREATER
        content.LoadIntoBufferAsync(cancellationToken);
#else
        content.LoadIntoBufferAsync();
#endif

    /// <summary>Half of the doubled backoff, plus up to as much again at random, so that many clients do not retry in step.</summary>
    private TimeSpan Backoff(int retry)
    {
        var cap = Math.Min(options.FirstBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(retry, 20)), options.MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds((cap / 2) + (Random.Shared.NextDouble() * cap / 2));
    }
}
