using Microsoft.AspNetCore.Http.HttpResults;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

/// <summary>
/// How every order mutation runs: lock the partner's order row, check <c>If-Match</c>, call one domain
/// method, save the change with its event, answer with the event id and the order (SPEC §6 order of checks).
/// </summary>
public static class OrderMutation
{
    public const string Applied = "applied";
    public const string Scheduled = "scheduled";

    public static async Task<OrderChangeResults> Run(
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        long id,
        Func<Order, DateTimeOffset, Result<OrderChange>> change,
        CancellationToken cancellation)
    {
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        var order = await db.LockOrderAsync(http.User.PartnerId(), id, cancellation);
        if (order is null)
        {
            return Problems.OrderNotFound(id);
        }

        if (!http.Request.IfMatchAllows(order.Version))
        {
            return Problems.Result("version_mismatch", $"The order is at version {order.Version}; send If-Match: \"{order.Version}\" after reading it again.");
        }

        var result = change(order, clock.GetUtcNow());
        if (!result.IsSuccess)
        {
            return Problems.From(result.Error!);
        }

        await db.SaveOrdersAsync([order], cancellation);
        await transaction.CommitAsync(cancellation);
        return Respond(http, order, result.Value);
    }

    /// <summary>For metrics: <c>applied</c> (200), <c>scheduled</c> (202), or the refusal's code.</summary>
    public static string OutcomeOf(OrderChangeResults result) => result.Result switch
    {
        Accepted<OrderChangeResponse> => Scheduled,
        ProblemHttpResult problem => problem.ProblemDetails.Extensions.TryGetValue("code", out var code) ? code as string ?? "unknown" : "unknown",
        _ => Applied,
    };

    public static OrderChangeResults Respond(
        HttpContext http, Order order, OrderChange change)
    {
        http.Response.SetETag(order.Version);
        var location = $"/v1/orders/{order.Id}";
        var answer = OrderChangeResponse.Of(change.Event.Id, order, http.PrefersMinimal());
        return change.Scheduled ? TypedResults.Accepted(location, answer) : TypedResults.Ok(answer);
    }
}
