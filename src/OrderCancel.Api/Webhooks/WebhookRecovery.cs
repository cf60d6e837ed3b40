using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Webhooks;

/// <summary>Sends an endpoint again what it missed: every event of its types in a window (SPEC §12).</summary>
public sealed class RecoverWebhookRequest
{
    /// <summary>Events that occurred at or after this instant.</summary>
    /// <example>2030-06-28T00:00:00Z</example>
    [Required]
    public DateTimeOffset? Since { get; init; }

    /// <summary>Events that occurred before this instant; default: now.</summary>
    /// <example>2030-06-30T00:00:00Z</example>
    public DateTimeOffset? Until { get; init; }

    /// <summary>Also send events the endpoint already received (a 2xx); default false.</summary>
    public bool? IncludeSucceeded { get; init; }
}

public sealed class RecoverWebhookValidator : AbstractValidator<RecoverWebhookRequest>
{
    public RecoverWebhookValidator()
    {
        RuleFor(r => r.Since).Required();
        RuleFor(r => r.Until)
            .Must((request, until) => until is null || request.Since is null || until > request.Since)
            .WithMessage("Must be after since.");
    }
}

/// <param name="Queued">How many deliveries were queued, oldest event first.</param>
public sealed record RecoveryResponse(Guid Id, int Queued);

/// <summary>Recovering what an endpoint missed, and turning a disabled endpoint back on.</summary>
public static class WebhookRecovery
{
    public static RouteGroupBuilder MapRecovery(this RouteGroupBuilder webhooks)
    {
        webhooks.MapPost("/{id:guid}/recover", Recover)
            .WithName("RecoverWebhook")
            .WithSummary("Queue again every event of the endpoint's types in a window, oldest first")
            .WithDescription("Answers 202 with how many deliveries were queued. Each is sent with the event's own id as "
                + "webhook-id, so a receiver that saw it before can recognise it. Events already delivered to this endpoint "
                + "(2xx) are left out unless include_succeeded is true, and so are those with a delivery still pending. "
                + "A disabled endpoint answers 400 endpoint_disabled: enable it first.")
            .Refuses("not_found", "endpoint_disabled")
            .WithRequestExamples(new RequestExample("weekend", "What a weekend's outage missed", JsonNode.Parse("""
                { "since": "2030-06-28T00:00:00Z", "until": "2030-06-30T08:00:00Z" }
                """)!));
        webhooks.MapPost("/{id:guid}/enable", Enable)
            .WithName("EnableWebhook")
            .WithSummary("Turn a disabled endpoint back on")
            .WithDescription("An endpoint is disabled when its receiver answers 410. Enabling it resets that: it receives "
                + "new events again, and its pending deliveries are due now with a fresh 24 h of retries.")
            .Refuses("not_found");
        return webhooks;
    }

    public static async Task<Results<Accepted<RecoveryResponse>, ProblemHttpResult>> Recover(
        Guid id, JsonBody<RecoverWebhookRequest> body, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        // Recoveries of one endpoint take turns: the second sees what the first queued as pending and leaves it out.
        var endpoint = await db.WebhookEndpoints
            .FromSql($"SELECT * FROM webhook_endpoints WHERE id = {id} AND partner_id = {partnerId} FOR NO KEY UPDATE")
            .AsNoTracking()
            .SingleOrDefaultAsync(cancellation);
        if (endpoint is null)
        {
            return WebhookEndpoints.NotFound(id);
        }

        if (!endpoint.Enabled)
        {
            return Problems.Result("endpoint_disabled", $"Webhook {id} is disabled (its receiver answered 410); POST /v1/webhooks/{id}/enable first.");
        }

        var now = clock.GetUtcNow();
        var request = body.Value;
        var queued = await db.RecoverDeliveriesAsync(
            new RecoveryQuery(id, partnerId, endpoint.Events.Contains("*") ? [.. EventTypes.All] : endpoint.Events, request.Since!.Value, request.Until ?? now, request.IncludeSucceeded ?? false, now),
            cancellation);
        await transaction.CommitAsync(cancellation);
        return TypedResults.Accepted($"/v1/webhooks/{id}/deliveries", new RecoveryResponse(id, queued));
    }

    public static async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> Enable(
        Guid id, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var now = clock.GetUtcNow();
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        var endpoint = await db.WebhookEndpoints.SingleOrDefaultAsync(w => w.Id == id && w.PartnerId == partnerId, cancellation);
        if (endpoint is null)
        {
            return WebhookEndpoints.NotFound(id);
        }

        endpoint.Enabled = true;
        await db.SaveChangesAsync(cancellation);
        await db.WebhookDeliveries
            .Where(d => d.EndpointId == id && d.Status == DeliveryStatus.Pending)
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.NextAttemptAt, now).SetProperty(d => d.FirstAttemptAt, (DateTimeOffset?)null), cancellation);
        await transaction.CommitAsync(cancellation);
        return TypedResults.Ok(new WebhookResponse(endpoint.Id, endpoint.Url, endpoint.Events, endpoint.Enabled, endpoint.CreatedAt));
    }
}
