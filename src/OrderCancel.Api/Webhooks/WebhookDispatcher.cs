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
/// Sends the outbox: claims due deliveries with <c>FOR UPDATE SKIP LOCKED</c> and a lease (so several
/// instances share the work, and a crashed instance's deliveries are retried after the lease), posts them
/// in parallel with a timeout, and records each outcome with its retry schedule. A poll that finds nothing due makes no
/// span; one that claims deliveries is a <c>webhook.claim</c> span, and each send a <c>webhook.send</c>.
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
    public const int BatchSize = 100;

    /// <summary>Every attempt names the sender and its build, so a receiver's logs and firewall can tell us apart.</summary>
    public static readonly ProductInfoHeaderValue UserAgent = new("OrderCancel-Webhooks", Telemetry.Telemetry.Version);

    private long _lastPollAsOf = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>The clock reading the latest finished poll (successful or not) started at, as <c>PollingWorker.LastRoundAsOf</c>.</summary>
    public DateTimeOffset LastPollAsOf => new(Volatile.Read(ref _lastPollAsOf), TimeSpan.Zero);

    /// <summary>Claims and sends what is due now; answers how many deliveries it attempted.</summary>
    public async Task<int> DispatchOnceAsync(CancellationToken cancellation)
    {
        var settings = options.CurrentValue;
        var work = await ClaimAsync(settings, cancellation);
        await Parallel.ForEachAsync(
            work,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.Parallelism), CancellationToken = cancellation },
            (item, token) => new ValueTask(SendAsync(item, settings, token)));
        return work.Count;
    }

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
                throw new HttpRequestException($"{context.DnsEndPoint.Host} resolves only to addresses that are not public.");
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CurrentValue.PollInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.GetUtcNow();
            try
            {
                // Keep going while there is a backlog; wait for the next tick once it is drained.
                while (await DispatchOnceAsync(stoppingToken) == BatchSize)
                {
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
        }
    }

    private async Task<List<Work>> ClaimAsync(WebhookOptions settings, CancellationToken cancellation)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        var now = clock.GetUtcNow();
        var leaseUntil = now + settings.Lease;
        var started = DateTimeOffset.UtcNow;
        List<Guid> ids;
        using (Telemetry.Telemetry.Untraced())
        {
            ids = await db.Database.SqlQuery<Guid>($"""
                UPDATE webhook_deliveries SET next_attempt_at = {leaseUntil}
                WHERE id IN (
                    SELECT d.id FROM webhook_deliveries d
                    JOIN webhook_endpoints w ON w.id = d.endpoint_id
                    WHERE d.status = 'pending' AND d.next_attempt_at <= {now} AND w.enabled
                    ORDER BY d.next_attempt_at
                    LIMIT {BatchSize}
                    FOR UPDATE OF d SKIP LOCKED)
                RETURNING id AS "Value"
                """).ToListAsync(cancellation);
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

    private async Task SendAsync(Work item, WebhookOptions settings, CancellationToken cancellation)
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
            failure = exception is OperationCanceledException ? $"no answer within {settings.Timeout.TotalSeconds:0.#} s" : exception.Message;
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
                .SetProperty(d => d.NextAttemptAt, next),
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
