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
/// <param name="NextSince">
/// Null when every event of the window was queued. Otherwise a cap stopped this call (the deliveries one call queues, or
/// the endpoint's pending deliveries): recover again with this as <c>since</c> (and the same <c>until</c>) for the rest;
/// no event this call queued is queued again by that one.
/// </param>
public sealed record RecoveryResponse(Guid Id, int Queued, DateTimeOffset? NextSince);

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
                + "One call queues at most 10,000 deliveries (the service's configuration may say otherwise), and an "
                + "endpoint has at most 50,000 pending: when a cap stops a call, next_since says where to continue (call "
                + "again with it as since); it is null when the whole window was queued. An endpoint already at its pending "
                + "cap answers 400 pending_delivery_limit_reached: wait for its deliveries to drain. Re-sent successes "
                + "(include_succeeded) count against both caps. A disabled endpoint answers 400 endpoint_disabled: enable it first.")
            .Refuses("not_found", "endpoint_disabled", "pending_delivery_limit_reached")
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
        Guid id,
        JsonBody<RecoverWebhookRequest> body,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        IOptionsMonitor<WebhookOptions> options,
        CancellationToken cancellation)
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

        // What is pending now, recoveries' and live events' alike; the lock above keeps it from growing by another recovery.
        var settings = options.CurrentValue;
        var pending = await db.WebhookDeliveries.CountAsync(d => d.EndpointId == id && d.Status == DeliveryStatus.Pending, cancellation);
        var room = settings.MaxPendingPerEndpoint - pending;
        if (room <= 0)
        {
            return Problems.Result(
                "pending_delivery_limit_reached",
                $"Webhook {id} has {pending} deliveries pending, the most an endpoint may have ({settings.MaxPendingPerEndpoint}); "
                + "recover again once they have been sent. New events are still delivered.");
        }

        var now = clock.GetUtcNow();
        var request = body.Value;
        var types = endpoint.Events.Contains("*") ? [.. EventTypes.All] : endpoint.Events;
        var until = request.Until ?? now;
        var includeSucceeded = request.IncludeSucceeded ?? false;
        var result = await db.RecoverDeliveriesAsync(
            new RecoveryQuery(id, partnerId, types, request.Since!.Value, until, includeSucceeded, now, Math.Min(Math.Max(1, settings.MaxDeliveriesPerRecovery), room)),
            cancellation);
        if (result is { Queued: 0, NextSince: { } instant })
        {
            // More events share one instant than the cap allows: they are queued together (an instant is never split,
            // so that next_since never sends one twice), and the next call starts after it.
            var after = instant.AddTicks(10);
            var group = await db.RecoverDeliveriesAsync(
                new RecoveryQuery(id, partnerId, types, instant, after < until ? after : until, includeSucceeded, now, 1_000_000_000),
                cancellation);
            result = new RecoveryResult(group.Queued, after < until ? after : null);
        }

        await transaction.CommitAsync(cancellation);
        return TypedResults.Accepted($"/v1/webhooks/{id}/deliveries", new RecoveryResponse(id, result.Queued, result.NextSince));
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
