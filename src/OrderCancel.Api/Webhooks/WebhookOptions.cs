namespace OrderCancel.Api.Webhooks;

/// <summary><c>Webhooks:*</c> configuration (SPEC §7a, §9).</summary>
public sealed class WebhookOptions
{
    /// <summary>Accept <c>http://</c> loopback URLs; default true in Development only.</summary>
    public bool? AllowInsecureLoopback { get; set; }

    /// <summary>Delay before the first retry; each later one is four times the previous, ±20 %, at most 6 h.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the outbox is looked at.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a receiver has to answer.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a claimed delivery stays with the instance sending it; after that (a crash) another one retries.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Deliveries sent at once by one instance (its slots), shared by all endpoints.</summary>
    public int Parallelism { get; set; } = 64;

    /// <summary>
    /// Attempts in flight to one endpoint at most, across all instances: a slow or failing receiver holds only this many
    /// slots, and the claim takes endpoints (and partners) in turn.
    /// </summary>
    public int EndpointConcurrency { get; set; } = 4;

    /// <summary>Deliveries one recovery call queues at most; the answer's <c>next_since</c> continues.</summary>
    public int MaxDeliveriesPerRecovery { get; set; } = 10_000;

    /// <summary>Pending deliveries an endpoint may have before recovery refuses (live events are always queued).</summary>
    public int MaxPendingPerEndpoint { get; set; } = 50_000;

    /// <summary>Endpoints a partner may register.</summary>
    public int MaxEndpointsPerPartner { get; set; } = 20;

    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromHours(6);
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromHours(24);
}
