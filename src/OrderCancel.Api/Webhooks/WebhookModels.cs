using System.Security.Cryptography;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;

namespace OrderCancel.Api.Webhooks;

/// <summary>
/// A partner's webhook endpoint (SPEC §9). The secret signs deliveries, so it is kept, encrypted
/// (<see cref="WebhookSecrets"/>), and shown only when it is made.
/// </summary>
public sealed class WebhookEndpoint
{
    public Guid Id { get; init; }

    public Guid PartnerId { get; init; }

    public required string Url { get; init; }

    /// <summary>Event types, or <c>*</c> for all.</summary>
    public required string[] Events { get; init; }

    public bool Enabled { get; set; } = true;

    /// <summary>The signing secret, encrypted with Data Protection.</summary>
    public required string ProtectedSecret { get; set; }

    /// <summary>The secret a rotation replaced, encrypted; it still signs beside the new one until <see cref="PreviousSecretUntil"/>.</summary>
    public string? ProtectedPreviousSecret { get; set; }

    public DateTimeOffset? PreviousSecretUntil { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary><c>whsec_</c> + base64 of 32 random bytes (Standard Webhooks).</summary>
    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}

public enum DeliveryStatus
{
    Pending,
    Succeeded,
    Failed,
}

/// <summary>One event to send to one endpoint: the outbox row, written in the transaction that wrote the event.</summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; init; }

    public Guid EndpointId { get; init; }

    public Guid PartnerId { get; init; }

    public Guid EventId { get; init; }

    public required string EventType { get; init; }

    public DeliveryStatus Status { get; set; }

    public int Attempts { get; set; }

    public int? LastResponseCode { get; set; }

    public DateTimeOffset? LastAttemptAt { get; set; }

    /// <summary>When it is next due; while an instance is sending it, the end of that instance's lease.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>
    /// While an instance is sending it, the end of that instance's lease (as <see cref="NextAttemptAt"/>); null once the
    /// attempt is recorded. The claim counts an endpoint's unexpired leases as its attempts in flight.
    /// </summary>
    public DateTimeOffset? LeasedUntil { get; set; }

    /// <summary>Retries stop 24 h after this.</summary>
    public DateTimeOffset? FirstAttemptAt { get; set; }

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// What a delivery POSTs (SPEC §9), as the OpenAPI document describes it: <c>WebhookSignature.Body</c> writes
/// the same JSON (the stored event's data as it is) without building this record.
/// </summary>
/// <param name="Id">The event's id, also sent as <c>webhook-id</c>.</param>
/// <param name="Timestamp">When the event occurred.</param>
/// <param name="Data">The order as it stood right after the change.</param>
public sealed record WebhookMessage(
    Guid Id,
    [property: SchemaRef(OpenApiSchemas.EventType)] string Type,
    DateTimeOffset Timestamp,
    EventData Data);
