using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Webhooks;

public sealed class CreateWebhookRequest
{
    /// <summary>https, or http to a loopback address where the service allows it (Development).</summary>
    /// <example>https://partner.example/hooks/ordercancel</example>
    [Required]
    public string? Url { get; init; }

    /// <summary>Event types such as <c>order.cancelled</c>, or <c>["*"]</c> for all.</summary>
    [Required]
    [SchemaRef(OpenApiSchemas.EventTypeOrAll)]
    public List<string>? Events { get; init; }
}

public sealed record WebhookResponse(Guid Id, string Url, [property: SchemaRef(OpenApiSchemas.EventTypeOrAll)] IReadOnlyList<string> Events, bool Enabled, DateTimeOffset CreatedAt);

/// <summary>Only in the answer that creates the endpoint: the signing secret.</summary>
public sealed record CreatedWebhookResponse(Guid Id, string Url, [property: SchemaRef(OpenApiSchemas.EventTypeOrAll)] IReadOnlyList<string> Events, bool Enabled, string Secret, DateTimeOffset CreatedAt);

public sealed record WebhookList(IReadOnlyList<WebhookResponse> Data);

/// <summary>The new signing secret, shown only here; the previous one keeps signing beside it until <c>previous_secret_expires_at</c>.</summary>
public sealed record RotatedSecretResponse(Guid Id, string Secret, DateTimeOffset PreviousSecretExpiresAt);

public sealed record DeliveryResponse(
    Guid Id,
    Guid EventId,
    [property: SchemaRef(OpenApiSchemas.EventType)] string EventType,
    DeliveryStatus Status,
    int Attempts,
    int? LastResponseCode,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset? NextAttemptAt);

public sealed record DeliveryList(IReadOnlyList<DeliveryResponse> Data);

public sealed class CreateWebhookValidator : AbstractValidator<CreateWebhookRequest>
{
    public CreateWebhookValidator(IOptionsMonitor<WebhookOptions> options, IHostEnvironment environment)
    {
        RuleFor(r => r.Url).RequiredText(2048)
            .Must(url => WebhookUrls.Problem(url!, WebhookUrls.AllowsInsecureLoopback(options.CurrentValue, environment)) is null)
            .WithMessage((_, url) => WebhookUrls.Problem(url!, WebhookUrls.AllowsInsecureLoopback(options.CurrentValue, environment))!);
        RuleFor(r => r.Events).Required()
            .Must(events => events is null || events.Count > 0).WithMessage("Must name at least one event type, or \"*\".");
        RuleForEach(r => r.Events)
            .Must(type => type == "*" || EventTypes.All.Contains(type))
            .WithMessage($"Must be \"*\" or one of: {string.Join(", ", EventTypes.All)}.");
    }
}

/// <summary><c>/v1/webhooks</c>: register, list and remove endpoints; see and retry their deliveries.</summary>
public static class WebhookEndpoints
{
    public static RouteGroupBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/v1/webhooks", "Webhooks", Callers.PartnerPolicy)
            .DescribesPath("id", "The endpoint's id, as POST /v1/webhooks or GET /v1/webhooks answered it.")
            .DescribesPath("deliveryId", "A delivery's id, from GET /v1/webhooks/{id}/deliveries.");

        group.MapPost("/", Create)
            .WithName("CreateWebhook")
            .WithSummary("Register an endpoint; the signing secret is shown only in this answer")
            .WithDescription("Deliveries are POSTed with the Standard Webhooks headers webhook-id, webhook-timestamp and "
                + "webhook-signature (v1, base64 HMAC-SHA256 of id.timestamp.body, keyed with the secret after whsec_); "
                + "the payloads are the event callback below. A partner has at most 20 endpoints (the service's configuration "
                + "may say otherwise): one more answers 400 webhook_endpoint_limit_reached; delete one first.")
            .Refuses("webhook_endpoint_limit_reached")
            .WithRequestExamples(new RequestExample("cancellations", "Cancellations only", JsonNode.Parse("""
                { "url": "https://partner.example/hooks/ordercancel", "events": ["order.cancelled", "order.partially_cancelled"] }
                """)!));
        group.MapGet("/", List)
            .WithName("ListWebhooks").WithSummary("Your endpoints (without secrets)")
            .WithDescription("Oldest first. A receiver that answered 410 shows enabled: false.");
        group.MapDelete("/{id:guid}", Delete)
            .WithName("DeleteWebhook").WithSummary("Remove an endpoint and its pending deliveries")
            .WithDescription("Answers 204; events that occur afterwards are not delivered to it.")
            .Refuses("not_found");
        group.MapGet("/{id:guid}/deliveries", Deliveries)
            .WithName("ListDeliveries").WithSummary("One entry per event sent to the endpoint, newest first")
            .WithDescription("The latest 500: status, attempts, the last response code and when the next attempt is due.")
            .Refuses("not_found");
        group.MapPost("/{id:guid}/rotate-secret", RotateSecret)
            .WithName("RotateWebhookSecret")
            .WithSummary("Replace the signing secret; the new one is shown only in this answer")
            .WithDescription("For 24 hours every delivery carries two signatures, the old secret's and the new one's "
                + "(webhook-signature: v1,<old> v1,<new>), so a receiver can switch to the new secret at its own pace.")
            .Refuses("not_found");
        group.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/retry", Retry)
            .WithName("RetryDelivery").WithSummary("Send a delivery again now (re-enables the endpoint)")
            .WithDescription("Answers 202; the delivery is pending again with a fresh 24 h of retries.")
            .Refuses("not_found");
        return group.MapRecovery();
    }

    public static async Task<Results<Created<CreatedWebhookResponse>, ProblemHttpResult>> Create(
        JsonBody<CreateWebhookRequest> body,
        HttpContext http,
        OrdersDbContext db,
        WebhookSecrets secrets,
        TimeProvider clock,
        IOptionsMonitor<WebhookOptions> options,
        CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var limit = options.CurrentValue.MaxEndpointsPerPartner;
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        // A partner's registrations take turns, so two at once cannot both take the last place.
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM partners WHERE id = {partnerId} FOR NO KEY UPDATE", cancellation);
        var registered = await db.WebhookEndpoints.CountAsync(w => w.PartnerId == partnerId, cancellation);
        if (registered >= limit)
        {
            return Problems.Result(
                "webhook_endpoint_limit_reached",
                $"You have {registered} webhook endpoints, the most a partner may have ({limit}); DELETE /v1/webhooks/{{id}} one first.");
        }

        var now = clock.GetUtcNow();
        var secret = WebhookEndpoint.NewSecret();
        var endpoint = new WebhookEndpoint
        {
            Id = Guid.CreateVersion7(now),
            PartnerId = partnerId,
            Url = body.Value.Url!,
            Events = [.. body.Value.Events!.Distinct(StringComparer.Ordinal)],
            ProtectedSecret = secrets.Protect(secret),
            CreatedAt = now,
        };
        db.WebhookEndpoints.Add(endpoint);
        await db.SaveChangesAsync(cancellation);
        await transaction.CommitAsync(cancellation);
        return TypedResults.Created(
            $"/v1/webhooks/{endpoint.Id}",
            new CreatedWebhookResponse(endpoint.Id, endpoint.Url, endpoint.Events, endpoint.Enabled, secret, endpoint.CreatedAt));
    }

    public static async Task<Ok<WebhookList>> List(HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var endpoints = await db.WebhookEndpoints.AsNoTracking()
            .Where(w => w.PartnerId == partnerId)
            .OrderBy(w => w.CreatedAt)
            .Select(w => new WebhookResponse(w.Id, w.Url, w.Events, w.Enabled, w.CreatedAt))
            .ToListAsync(cancellation);
        return TypedResults.Ok(new WebhookList(endpoints));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid id, HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var deleted = await db.WebhookEndpoints.Where(w => w.Id == id && w.PartnerId == partnerId).ExecuteDeleteAsync(cancellation);
        return deleted == 0 ? NotFound(id) : TypedResults.NoContent();
    }

    public static async Task<Results<Ok<DeliveryList>, ProblemHttpResult>> Deliveries(Guid id, HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        if (!await db.WebhookEndpoints.AnyAsync(w => w.Id == id && w.PartnerId == partnerId, cancellation))
        {
            return NotFound(id);
        }

        var deliveries = await db.WebhookDeliveries.AsNoTracking()
            .Where(d => d.EndpointId == id && d.PartnerId == partnerId)
            .OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id)
            .Take(500)
            .Select(d => new DeliveryResponse(
                d.Id,
                d.EventId,
                d.EventType,
                d.Status,
                d.Attempts,
                d.LastResponseCode,
                d.LastAttemptAt,
                d.Status == DeliveryStatus.Pending ? d.NextAttemptAt : null))
            .ToListAsync(cancellation);
        return TypedResults.Ok(new DeliveryList(deliveries));
    }

    public static async Task<Results<Accepted, ProblemHttpResult>> Retry(
        Guid id, Guid deliveryId, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var now = clock.GetUtcNow();
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        var retried = await db.WebhookDeliveries
            .Where(d => d.Id == deliveryId && d.EndpointId == id && d.PartnerId == partnerId)
            .ExecuteUpdateAsync(
                set => set
                    .SetProperty(d => d.Status, DeliveryStatus.Pending)
                    .SetProperty(d => d.NextAttemptAt, now)
                    .SetProperty(d => d.FirstAttemptAt, (DateTimeOffset?)null),
                cancellation);
        if (retried == 0)
        {
            return Problems.Result("not_found", $"Delivery {deliveryId} of webhook {id} not found.");
        }

        await db.WebhookEndpoints.Where(w => w.Id == id).ExecuteUpdateAsync(set => set.SetProperty(w => w.Enabled, true), cancellation);
        await transaction.CommitAsync(cancellation);
        return TypedResults.Accepted($"/v1/webhooks/{id}/deliveries");
    }

    public static async Task<Results<Ok<RotatedSecretResponse>, ProblemHttpResult>> RotateSecret(
        Guid id, HttpContext http, OrdersDbContext db, WebhookSecrets secrets, TimeProvider clock, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var secret = WebhookEndpoint.NewSecret();
        var protectedSecret = secrets.Protect(secret);
        var until = clock.GetUtcNow() + WebhookSecrets.Overlap;

        // The current secret becomes the previous one in the same statement, so two rotations at once cannot lose one.
        var rotated = await db.WebhookEndpoints
            .Where(w => w.Id == id && w.PartnerId == partnerId)
            .ExecuteUpdateAsync(
                set => set
                    .SetProperty(w => w.ProtectedPreviousSecret, w => w.ProtectedSecret)
                    .SetProperty(w => w.PreviousSecretUntil, until)
                    .SetProperty(w => w.ProtectedSecret, protectedSecret),
                cancellation);
        return rotated == 0 ? NotFound(id) : TypedResults.Ok(new RotatedSecretResponse(id, secret, until));
    }

    internal static ProblemHttpResult NotFound(Guid id) => Problems.Result("not_found", $"Webhook {id} not found.");
}
