using Microsoft.AspNetCore.Http.HttpResults;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Telemetry;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

/// <summary>Answer of <c>POST /v1/orders/{id}/cancel/preview</c>: would the cancellation go through, and with what effect.</summary>
public sealed record CancelPreviewResponse(bool Allowed, [property: SchemaRef(OpenApiSchemas.ProblemCode)] string? Code, OrderResponse Order, decimal AmountReleased, bool Scheduled);

/// <summary>Cancel, preview, unschedule and reactivate (SPEC §3, §5); the rules themselves are the order's.</summary>
public static class CancellationEndpoints
{
    public static RouteGroupBuilder MapCancellations(this RouteGroupBuilder orders)
    {
        orders.MapPost("/{id:long}/cancel", Cancel)
            .WithName("CancelOrder")
            .WithSummary("Cancel an order in full or in part, now or on a future date")
            .WithDescription("200 when it applies now, 202 when effective_date is a later day in the order's time zone "
                + "(the order keeps its status and gets scheduled_cancellation). Paid: 400 order_already_paid. After the "
                + "partner's cancellation_window (GET /v1/settings): 400 cancellation_window_closed. Whether a partial cancel "
                + "releases shipping follows waive_shipping, or the partner's shipping_on_partial_cancel when it is left out.")
            .ChangesOrder(
                "order_already_paid",
                "order_already_cancelled",
                "cancellation_window_closed",
                "line_not_found",
                "quantity_exceeds_remaining",
                "cancellation_already_scheduled")
            .WithRequestExamples(OrderExamples.Cancel);
        orders.MapPost("/{id:long}/cancel/preview", Preview)
            .WithName("PreviewCancellation")
            .WithSummary("Would this cancellation be allowed, and what would the order look like? Changes nothing.")
            .WithDescription("A state rule's refusal is 200 with allowed: false and its code; a malformed body is still a 422. "
                + "The ETag is the order's current version; ids of events that do not exist yet are null.")
            .Refuses("order_not_found")
            .Reads(OperationHeaders.ETag)
            .WithRequestExamples(OrderExamples.Cancel);
        orders.MapDelete("/{id:long}/scheduled-cancellation", Unschedule)
            .WithName("UnscheduleCancellation")
            .WithSummary("Take back a scheduled cancellation")
            .WithDescription("Writes order.cancellation_unscheduled. Nothing scheduled: 400 no_scheduled_cancellation.")
            .ChangesOrder("no_scheduled_cancellation");
        orders.MapPost("/{id:long}/reactivate", Reactivate)
            .WithName("ReactivateOrder")
            .WithSummary("Reactivate a cancelled order, now or on a future date")
            .WithDescription("Restores what the cancellation that made the order cancelled took away and returns it to its "
                + "previous status. 202 with scheduled_reactivation when effective_date is a later day.")
            .ChangesOrder("order_not_cancelled", "reactivation_already_scheduled")
            .WithRequestExamples(OrderExamples.Reactivate);
        orders.MapDelete("/{id:long}/scheduled-reactivation", UnscheduleReactivation)
            .WithName("UnscheduleReactivation")
            .WithSummary("Take back a scheduled reactivation")
            .WithDescription("Writes order.reactivation_unscheduled. Nothing scheduled: 400 no_scheduled_reactivation.")
            .ChangesOrder("no_scheduled_reactivation");
        return orders;
    }

    public static async Task<OrderChangeResults> Cancel(
        long id,
        JsonBody<CancelOrderRequest> body,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        OrderCancelMetrics metrics,
        CancellationToken cancellation)
    {
        var request = ToDomain(body.Value);
        var result = await OrderMutation.Run(http, db, clock, id, (order, now) => order.Cancel(request, now, http.User.Actor(), http.CallerPolicy()), cancellation);
        var outcome = OrderMutation.OutcomeOf(result);
        metrics.Cancellation(request.Items.Count == 0 ? "full" : "partial", Json.Name(request.Reason), outcome == OrderMutation.Scheduled, outcome);
        return result;
    }

    public static async Task<Results<Ok<CancelPreviewResponse>, ProblemHttpResult>> Preview(
        long id, JsonBody<CancelOrderRequest> body, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        var order = await db.FindOrderAsync(http.User.PartnerId(), id, cancellation);
        if (order is null)
        {
            return Problems.OrderNotFound(id);
        }

        var current = OrderResponse.From(order);
        var version = order.Version;
        var result = order.Cancel(ToDomain(body.Value), clock.GetUtcNow(), http.User.Actor(), http.CallerPolicy());
        if (result.Error is { IsValidation: true } invalid)
        {
            return Problems.From(invalid);
        }

        // The order's current version: a preview changes nothing, so If-Match on the real cancel must accept this ETag.
        http.Response.SetETag(version);
        return TypedResults.Ok(result.IsSuccess
            ? new CancelPreviewResponse(true, null, OrderResponse.Unsaved(order), result.Value.AmountReleased, result.Value.Scheduled)
            : new CancelPreviewResponse(false, result.Error!.Code, current, 0m, false));
    }

    public static Task<OrderChangeResults> Unschedule(
        long id, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation) =>
        OrderMutation.Run(http, db, clock, id, (order, now) => order.UnscheduleCancellation(now, http.User.Actor()), cancellation);

    public static async Task<OrderChangeResults> Reactivate(
        long id,
        JsonBody<ReactivateOrderRequest> body,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        OrderCancelMetrics metrics,
        CancellationToken cancellation)
    {
        var request = new ReactivateRequest(body.Value.EffectiveDate, body.Value.Note);
        var result = await OrderMutation.Run(http, db, clock, id, (order, now) => order.Reactivate(request, now, http.User.Actor()), cancellation);
        var outcome = OrderMutation.OutcomeOf(result);
        metrics.Reactivation(outcome == OrderMutation.Scheduled, outcome);
        return result;
    }

    public static Task<OrderChangeResults> UnscheduleReactivation(
        long id, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation) =>
        OrderMutation.Run(http, db, clock, id, (order, now) => order.UnscheduleReactivation(now, http.User.Actor()), cancellation);

    private static CancelRequest ToDomain(CancelOrderRequest request) => new(
        request.Reason!.Value,
        request.Note,
        request.EffectiveDate,
        [.. (request.Items ?? []).Select(item => new CancelItem(item.LineId!.Value, item.Quantity!.Value, item.Reason))],
        request.WaiveShipping);
}
