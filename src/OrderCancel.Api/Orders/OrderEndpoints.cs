using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Persistence.Configurations;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

/// <summary><c>/v1/orders</c>: create, read, list, pay, and the order's events.</summary>
public static class OrderEndpoints
{
    public static RouteGroupBuilder MapOrders(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/v1/orders", "Orders", Callers.PartnerPolicy)
            .DescribesPath("id", "The order's id, as POST /v1/orders or GET /v1/orders answered it.");

        group.MapPost("/", Create)
            .WithName("CreateOrder")
            .WithSummary("Create or import an order")
            .WithDescription("One-time orders start pending, recurring ones active. A duplicate reference is a 409. "
                + "With Prefer: return=minimal the answer is {event_id, order_id, status}.")
            .Refuses("duplicate_reference")
            .Reads(OperationHeaders.Prefer | OperationHeaders.ETag)
            .WithRequestExamples(OrderExamples.Create);
        group.MapGet("/{id:long}", Get)
            .WithName("GetOrder")
            .WithSummary("Get an order")
            .WithDescription("Its `ETag` is the order's version, for `If-Match` on a change. Another partner's order is 404 like an unknown id.")
            .Refuses("order_not_found")
            .Reads(OperationHeaders.ETag);
        group.MapGet("/", List)
            .WithName("ListOrders")
            .WithSummary("List orders, newest first")
            .WithDescription("Filter by status, kind, customer_ref, reference and a creation window (created_from inclusive, "
                + "created_to exclusive); page with limit and the opaque next_cursor (null on the last page). A bad filter, "
                + "limit or cursor is a 422.");
        group.MapPost("/{id:long}/payments", Pay)
            .WithName("PayOrder")
            .WithSummary("Mark a pending one-time order paid")
            .WithDescription("amount must equal amount_due. Other statuses and recurring orders: 400 order_not_payable.")
            .ChangesOrder("order_not_payable")
            .WithRequestExamples(OrderExamples.Pay);
        group.MapGet("/{id:long}/events", Events)
            .WithName("ListOrderEvents")
            .WithSummary("The order's events, oldest first")
            .WithDescription("Each event's data is the order as it stood right after the change, exactly as webhooks carry it.")
            .Refuses("order_not_found");
        return group.MapCancellations();
    }

    public static async Task<Results<Created<MinimalChangeResponse>, Created<OrderResponse>, ProblemHttpResult>> Create(
        JsonBody<CreateOrderRequest> body,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var spec = ToNewOrder(body.Value);
        if (spec.Reference is { } reference
            && await db.Orders.AnyAsync(o => o.PartnerId == partnerId && o.Reference == reference, cancellation))
        {
            return DuplicateReference(reference);
        }

        var order = Order.Create(partnerId, spec, await db.NewLineIdsAsync(spec.Lines.Count, cancellation), clock.GetUtcNow(), http.User.Actor(), http.CallerPolicy());
        var created = order.PendingEvents[0];
        // AddAsync: the id comes from a HiLo block, and a sync Add fetches a new block with a blocking query while
        // holding the generator's lock; under a burst that starved the thread pool and the connection pool (every
        // request stuck for the pool's 15 s timeout, then 503: ConnectionBudgetTests).
        await db.Orders.AddAsync(order, cancellation);
        try
        {
            await db.SaveChangesAsync(cancellation);
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException
        {
            SqlState: PostgresErrorCodes.UniqueViolation,
            ConstraintName: OrderConfiguration.UniqueReferenceIndex,
        })
        {
            return DuplicateReference(spec.Reference!);
        }

        http.Response.SetETag(order.Version);
        var location = $"/v1/orders/{order.Id}";
        return http.PrefersMinimal()
            ? TypedResults.Created(location, new MinimalChangeResponse(created.Id, order.Id, order.Status))
            : TypedResults.Created(location, OrderResponse.From(order));
    }

    public static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> Get(
        long id, HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var order = await db.FindOrderAsync(http.User.PartnerId(), id, cancellation);
        if (order is null)
        {
            return Problems.OrderNotFound(id);
        }

        http.Response.SetETag(order.Version);
        return TypedResults.Ok(OrderResponse.From(order));
    }

    public static async Task<Ok<OrderPage>> List(
        [AsParameters] ListOrdersQuery query, HttpContext http, OrdersDbContext db, Cursors cursors, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        var orders = db.Orders.AsNoTracking().Where(o => o.PartnerId == partnerId);
        if (query.StatusFilter is { } status)
        {
            orders = orders.Where(o => o.Status == status);
        }

        if (query.KindFilter is { } kind)
        {
            orders = orders.Where(o => o.Kind == kind);
        }

        if (query.CustomerRef is { } customerRef)
        {
            orders = orders.Where(o => o.Customer.Ref == customerRef);
        }

        if (query.Reference is { } reference)
        {
            orders = orders.Where(o => o.Reference == reference);
        }

        if (query.CreatedFromFilter is { } from)
        {
            orders = orders.Where(o => o.CreatedAt >= from);
        }

        if (query.CreatedToFilter is { } to)
        {
            orders = orders.Where(o => o.CreatedAt < to);
        }

        if (query.Cursor is { } text && OrderCursor.TryDecode(cursors, partnerId.ToString(), text, out var after))
        {
            orders = orders.Where(o => o.CreatedAt < after.CreatedAt || (o.CreatedAt == after.CreatedAt && o.Id < after.Id));
        }

        var size = query.PageSize;
        var page = await orders
            .OrderByDescending(o => o.CreatedAt).ThenByDescending(o => o.Id)
            .Take(size + 1)
            .ToListAsync(cancellation);
        var next = page.Count > size ? new OrderCursor(page[size - 1].CreatedAt, page[size - 1].Id).Encode(cursors, partnerId) : null;
        return TypedResults.Ok(new OrderPage([.. page.Take(size).Select(OrderResponse.From)], next));
    }

    public static Task<OrderChangeResults> Pay(
        long id,
        JsonBody<PayOrderRequest> body,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        CancellationToken cancellation)
    {
        var request = new PaymentRequest(body.Value.Method!, body.Value.Amount!.Value, body.Value.Reference);
        return OrderMutation.Run(http, db, clock, id, (order, now) => order.Pay(request, now, http.User.Actor()), cancellation);
    }

    public static async Task<Results<Ok<EventList>, ProblemHttpResult>> Events(
        long id, HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var partnerId = http.User.PartnerId();
        if (!await db.Orders.AnyAsync(o => o.Id == id && o.PartnerId == partnerId, cancellation))
        {
            return Problems.OrderNotFound(id);
        }

        var events = await db.Events.AsNoTracking()
            .Where(e => e.OrderId == id && e.PartnerId == partnerId)
            .OrderBy(e => e.Sequence)
            .Select(e => new EventResponse(e.Id, e.Type, e.OrderId!.Value, e.OccurredAt, e.Actor, new RawJson(e.Data)))
            .ToListAsync(cancellation);
        return TypedResults.Ok(new EventList(events));
    }

    private static ProblemHttpResult DuplicateReference(string reference) =>
        Problems.Result("duplicate_reference", $"An order with reference '{reference}' already exists.");

    private static NewOrder ToNewOrder(CreateOrderRequest request) => new(
        request.Kind!.Value,
        Currency.Of(request.Currency!),
        request.TimeZone ?? "UTC",
        request.BillingPeriod,
        request.Reference,
        request.Channel ?? "api",
        new Customer(
            request.Customer!.Ref!,
            request.Customer.Email!,
            request.Customer.FirstName!,
            request.Customer.LastName!,
            request.Customer.Phone),
        [.. request.Lines!.Select(line => new NewLine(
            line.Sku!,
            line.Name!,
            line.Quantity!.Value,
            line.UnitPrice!.Value,
            line.Discount ?? 0m,
            line.TaxRate ?? 0m,
            MetadataText(line.Metadata)))],
        request.ShippingCost ?? 0m,
        MetadataText(request.Metadata),
        request.ExpiresAtGiven ? new ExpiryOverride(request.ExpiresAt) : null);

    private static string MetadataText(System.Text.Json.JsonElement? metadata) =>
        metadata is { ValueKind: System.Text.Json.JsonValueKind.Object } value ? value.GetRawText() : "{}";
}
