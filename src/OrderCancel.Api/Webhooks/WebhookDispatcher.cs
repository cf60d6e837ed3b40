using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Telemetry;

namespace OrderCancel.Api.Webhooks;

/// <summary>
/// Sends the outbox: keeps its sending slots (<c>Webhooks:Parallelism</c>) full, claiming again whenever a send ends
/// or the poll interval passes, so a slow receiver holds only its own slots and never the others' turn. Each claim takes
/// endpoints and partners in turn, at most <c>Webhooks:EndpointConcurrency</c> attempts in flight per endpoint across
/// instances (<see cref="OutboxRows"/>), with <c>FOR UPDATE SKIP LOCKED</c> and a lease (a crashed instance's
/// deliveries are retried after the lease). Each send has a timeout; its outcome is recorded with its retry schedule.
/// A claim that finds nothing due makes no span; one that claims deliveries is a <c>webhook.claim</c> span, and each
/// send a <c>webhook.send</c>.
/// </summary>
public sealed class WebhookDispatcher(
    IServiceScopeFactory scopes,
    IHttpClientFactory httpClients,
    TimeProvider clock,
    IOptionsMonitor<WebhookOptions> options,
    WebhookSecrets secrets,
    DatabaseOutage outage,
    OrderCancelMetrics metrics,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "webhooks";

    /// <summary>Every attempt names the sender and its build, so a receiver's logs and firewall can tell us apart.</summary>
    public static readonly ProductInfoHeaderValue UserAgent = new("OrderCancel-Webhooks", Telemetry.Telemetry.Version);

    private long _lastPollAsOf = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>The clock reading the latest finished poll (successful or not) started at, as <c>PollingWorker.LastRoundAsOf</c>.</summary>
    public DateTimeOffset LastPollAsOf => new(Volatile.Read(ref _lastPollAsOf), TimeSpan.Zero);

    /// <summary>The socket-level guard: a webhook host that resolves to a private address is never connected to.</summary>
    public static SocketsHttpHandler CreateHandler(Func<bool> allowLoopback) => new()
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, cancellation) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellation);
            var allowed = addresses
                .Where(address => WebhookUrls.IsGloballyReachable(address) || (WebhookUrls.IsLoopback(address) && allowLoopback()))
                .ToArray();
            if (allowed.Length == 0)
            {
                throw new NonPublicAddressException();
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellation);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>
    /// Why an attempt got no answer, in words that never name the host or port (the URL may carry a partner's
    /// token, and the README promises it is never logged): exception messages do name them, so they are not used.
    /// </summary>
    public static string FailureKind(Exception exception, TimeSpan timeout)
    {
        if (exception is OperationCanceledException)
        {
            return $"no answer within {timeout.TotalSeconds:0.#} s";
        }

        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case NonPublicAddressException:
                    return "the host resolves only to addresses that are not public";
                case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain }:
                    return "name not resolved";
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                    return "connection refused";
                case SocketException { SocketErrorCode: SocketError.TimedOut }:
                    return "connection timed out";
                case SocketException { SocketErrorCode: SocketError.HostUnreachable or SocketError.NetworkUnreachable }:
                    return "host unreachable";
                case SocketException { SocketErrorCode: SocketError.ConnectionReset }:
                    return "connection reset";
                case System.Security.Authentication.AuthenticationException:
                    return "TLS failure";
            }
        }

        return exception is HttpRequestException http ? http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "name not resolved",
            HttpRequestError.ConnectionError => "connection failed",
            HttpRequestError.SecureConnectionError => "TLS failure",
            HttpRequestError.ResponseEnded => "connection closed before an answer",
            HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError => "invalid HTTP answer",
            _ => "request failed",
        } : "request failed";
    }

    /// <summary>
    /// One loop: claim as many deliveries as there are free slots, start them, then wait until a send ends (its slot
    /// and its endpoint's turn are free again) or the poll interval passes, and claim again. A slow send holds its slot
    /// alone: the others keep being refilled while it waits for its answer.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start-up path: the first claim builds EF Core's model, which must not hold the host's start.
        await Task.Yield();
        using var timer = new PeriodicTimer(options.CurrentValue.PollInterval, clock);
        List<Task> sending = [];
        Task<bool>? tick = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                sending.RemoveAll(send => send.IsCompleted);
                var settings = options.CurrentValue;
                var free = Math.Max(1, settings.Parallelism) - sending.Count;
                var now = clock.GetUtcNow();
                try
                {
                    if (free > 0)
                    {
                        foreach (var item in await ClaimAsync(settings, free, stoppingToken))
                        {
                            sending.Add(SendAsync(item, settings, stoppingToken));
                        }
                    }
                }
                catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !stoppingToken.IsCancellationRequested)
                {
                    outage.Report(exception);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    logger.LogError(exception, "Dispatching webhooks failed");
                }
                finally
                {
                    Volatile.Write(ref _lastPollAsOf, now.UtcTicks);
                }

                tick ??= timer.WaitForNextTickAsync(stoppingToken).AsTask();
                if (await Task.WhenAny([tick, .. sending]) == tick)
                {
                    if (!await tick)
                    {
                        break;
                    }

                    tick = null;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Sends end promptly once stopping; what they did not record comes back after its lease.
            await Task.WhenAll(sending);
        }
    }

    private async Task<List<Work>> ClaimAsync(WebhookOptions settings, int free, CancellationToken cancellation)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        var now = clock.GetUtcNow();
        var started = DateTimeOffset.UtcNow;
        List<Guid> ids;
        using (Telemetry.Telemetry.Untraced())
        {
            ids = await db.Database.ClaimAsync(new OutboxClaim(now, now + settings.Lease, free, Math.Max(1, settings.EndpointConcurrency)), cancellation);
        }

        if (ids.Count == 0)
        {
            return [];
        }

        // Begun when the claim was, so its duration shows a claim that waits on locks.
        using var span = Telemetry.Telemetry.Source.StartActivity("webhook.claim", ActivityKind.Internal, parentContext: default, startTime: started);
        span?.SetTag("ordercancel.webhook.claimed", ids.Count);
        return await (
            from d in db.WebhookDeliveries
            where ids.Contains(d.Id)
            join w in db.WebhookEndpoints on d.EndpointId equals w.Id
            join e in db.Events on d.EventId equals e.Id
            select new Work(d.Id, w.Id, w.Url, w.ProtectedSecret, w.ProtectedPreviousSecret, w.PreviousSecretUntil, e.Id, e.Type, e.OccurredAt, e.Data, d.Attempts, d.FirstAttemptAt))
            .ToListAsync(cancellation);
    }

    /// <summary>One attempt, from its own slot: whatever goes wrong is logged here, and its lease brings it back.</summary>
    private async Task SendAsync(Work item, WebhookOptions settings, CancellationToken cancellation)
    {
        await Task.Yield();
        try
        {
            await AttemptAsync(item, settings, cancellation);
        }
        catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !cancellation.IsCancellationRequested)
        {
            outage.Report(exception);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            logger.LogError(exception, "Sending webhook delivery {DeliveryId} failed", item.DeliveryId);
        }
    }

    private async Task AttemptAsync(Work item, WebhookOptions settings, CancellationToken cancellation)
    {
        var attempt = item.Attempts + 1;
        using var span = Telemetry.Telemetry.Source.StartActivity("webhook.send");
        span?.SetTag("webhook.id", item.EventId)
            .SetTag("ordercancel.webhook.endpoint_id", item.EndpointId)
            .SetTag("ordercancel.webhook.delivery_id", item.DeliveryId)
            .SetTag("ordercancel.webhook.attempt", attempt)
            .SetTag("ordercancel.event.type", item.EventType);
        var body = WebhookSignature.Body(item.EventId, item.EventType, item.OccurredAt, item.Data);
        var sentAt = clock.GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        var timestamp = sentAt.ToUnixTimeSeconds();
        var messageId = item.EventId.ToString();
        using var request = new HttpRequestMessage(HttpMethod.Post, item.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.UserAgent.Add(UserAgent);
        request.Headers.Add("webhook-id", messageId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        var signing = secrets.SigningSecrets(item.ProtectedSecret, item.ProtectedPreviousSecret, item.PreviousSecretUntil, sentAt);
        request.Headers.Add("webhook-signature", string.Join(' ', signing.Select(secret => WebhookSignature.Sign(secret, messageId, timestamp, body))));

        int? status = null;
        TimeSpan? retryAfter = null;
        string? failure = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(settings.Timeout);
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            retryAfter = response.Headers.RetryAfter?.Delta ?? (response.Headers.RetryAfter?.Date - sentAt);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && !cancellation.IsCancellationRequested)
        {
            failure = FailureKind(exception, settings.Timeout);
        }

        var duration = Stopwatch.GetElapsedTime(started);

        // When the service is stopping, nothing is recorded: the lease runs out and another attempt follows.
        var outcome = await RecordAsync(item, status, retryAfter, sentAt, settings, CancellationToken.None);
        span?.SetTag("http.response.status_code", status).SetTag("ordercancel.webhook.outcome", outcome);
        metrics.WebhookAttempt(outcome);
        if (outcome == Succeeded)
        {
            metrics.WebhookDelivered(clock.GetUtcNow() - item.OccurredAt);
        }

        // One line per attempt, with what an operator needs to find it; never the URL, which may carry a partner's token.
        logger.LogInformation(
            "Webhook attempt {Attempt} of delivery {DeliveryId} (event {EventId}, {EventType:l}) to endpoint {EndpointId}: {StatusCode} in {DurationMs:0} ms, {Outcome:l}{Failure:l}",
            attempt,
            item.DeliveryId,
            item.EventId,
            item.EventType,
            item.EndpointId,
            status,
            duration.TotalMilliseconds,
            outcome,
            failure is null ? "" : $" ({failure})");
    }

    private const string Succeeded = "succeeded";

    /// <summary>Records the attempt; answers its outcome: succeeded, retrying, failed (given up) or disabled (410).</summary>
    private async Task<string> RecordAsync(Work item, int? status, TimeSpan? retryAfter, DateTimeOffset sentAt, WebhookOptions settings, CancellationToken cancellation)
    {
        var attempts = item.Attempts + 1;
        var firstAttempt = item.FirstAttemptAt ?? sentAt;
        DeliveryStatus outcome;
        DateTimeOffset? next = null;
        if (status is >= 200 and < 300)
        {
            outcome = DeliveryStatus.Succeeded;
        }
        else if (status == StatusCodes.Status410Gone)
        {
            outcome = DeliveryStatus.Failed;
        }
        else
        {
            var delay = status is 429 or 503 && retryAfter > TimeSpan.Zero
                ? retryAfter.Value < WebhookOptions.MaxRetryDelay ? retryAfter.Value : WebhookOptions.MaxRetryDelay
                : RetrySchedule.Delay(attempts, settings.FirstRetryDelay, Random.Shared.NextDouble());
            next = sentAt + delay;
            outcome = next <= firstAttempt + WebhookOptions.GiveUpAfter ? DeliveryStatus.Pending : DeliveryStatus.Failed;
            if (outcome == DeliveryStatus.Failed)
            {
                next = null;
            }
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();

        // The endpoint is disabled before the delivery shows failed, so whoever sees the one sees the other.
        if (status == StatusCodes.Status410Gone)
        {
            await db.WebhookEndpoints.Where(w => w.Id == item.EndpointId)
                .ExecuteUpdateAsync(set => set.SetProperty(w => w.Enabled, false), cancellation);
        }

        await db.WebhookDeliveries.Where(d => d.Id == item.DeliveryId).ExecuteUpdateAsync(
            set => set
                .SetProperty(d => d.Status, outcome)
                .SetProperty(d => d.Attempts, attempts)
                .SetProperty(d => d.LastResponseCode, status)
                .SetProperty(d => d.LastAttemptAt, sentAt)
                .SetProperty(d => d.FirstAttemptAt, firstAttempt)
                .SetProperty(d => d.NextAttemptAt, next)
                .SetProperty(d => d.LeasedUntil, (DateTimeOffset?)null),
            cancellation);
        return (outcome, status) switch
        {
            (DeliveryStatus.Succeeded, _) => Succeeded,
            (_, StatusCodes.Status410Gone) => "disabled",
            (DeliveryStatus.Pending, _) => "retrying",
            _ => "failed",
        };
    }

    private sealed record Work(
        Guid DeliveryId,
        Guid EndpointId,
        string Url,
        string ProtectedSecret,
        string? ProtectedPreviousSecret,
        DateTimeOffset? PreviousSecretUntil,
        Guid EventId,
        string EventType,
        DateTimeOffset OccurredAt,
        string Data,
        int Attempts,
        DateTimeOffset? FirstAttemptAt);
}

/// <summary>The connect guard's refusal: a webhook host that resolves only to addresses that are not public.</summary>
public sealed class NonPublicAddressException() : Exception("The webhook host resolves only to addresses that are not public.");
