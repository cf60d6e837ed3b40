using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Events;

/// <summary>
/// An event as the feed answers it: the shape of <c>/v1/orders/{id}/events</c>, with <c>order_id</c> null for an event
/// about something else (a cancellation job, the partner's settings), and <c>data</c> as the webhook of its type carries it.
/// </summary>
public sealed record FeedEventResponse(
    Guid Id,
    [property: SchemaRef(OpenApiSchemas.EventType)] string Type,
    long? OrderId,
    DateTimeOffset OccurredAt,
    string Actor,
    RawUtf8Json Data)
{
    public static FeedEventResponse From(FeedEvent stored) =>
        new(stored.Id, stored.Type, stored.OrderId, stored.OccurredAt, stored.Actor, new RawUtf8Json(stored.Data));
}

/// <param name="NextCursor">More events are there now: ask with this cursor. Null when this page caught up.</param>
/// <param name="ResumeCursor">Where this page ended (always set): poll with it later for what comes after.</param>
public sealed record EventFeedPage(IReadOnlyList<FeedEventResponse> Data, string? NextCursor, string ResumeCursor);

public sealed class EventFeedOptions
{
    /// <summary>How far back the feed reaches, and how long a cursor stays good (SPEC §12: at least 30 days).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);
}

/// <summary><c>/v1/events</c>: the calling partner's events across its orders, jobs and settings (SPEC §12).</summary>
public static class EventFeedEndpoints
{
    public static RouteGroupBuilder MapEventFeed(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/v1/events", "Events", Callers.PartnerPolicy)
            .DescribesPath("id", "The event's id, as the feed, an order's events or a webhook's webhook-id gave it.");
        group.MapGet("/", Feed)
            .WithName("ListEvents")
            .WithSummary("Your events, oldest first: poll with the cursor and never miss one or see one twice")
            .WithDescription("Follow next_cursor while it is set; once a page caught up (next_cursor null), poll later with its "
                + "resume_cursor. An event appears once every transaction that began before it has ended, so events that "
                + "commit in another order than they were written are never skipped. Filters: types, order_id, "
                + "occurred_from (inclusive), occurred_to (exclusive). The feed reaches back 30 days; a cursor older than "
                + "that is 410 cursor_expired.")
            .Refuses("cursor_expired");
        group.MapGet("/{id:guid}", Get)
            .WithName("GetEvent")
            .WithSummary("One event")
            .WithDescription("Another partner's event is 404 not_found, like an unknown id.")
            .Refuses("not_found");
        return group;
    }

    public static async Task<Results<Ok<EventFeedPage>, ProblemHttpResult>> Feed(
        [AsParameters] EventFeedQuery query,
        HttpContext http,
        OrdersDbContext db,
        TimeProvider clock,
        IOptions<EventFeedOptions> options,
        Cursors cursors,
        CancellationToken cancellation)
    {
        var now = clock.GetUtcNow();
        var keptFrom = now - options.Value.Retention;
        var partnerId = http.User.PartnerId();
        var given = query.After(cursors, partnerId);
        var after = given ?? FeedPosition.Start(now);
        if (given is { } cursor && cursor.OccurredAt < keptFrom)
        {
            return Problems.Result(
                "cursor_expired",
                $"The cursor points at an event of {cursor.OccurredAt:yyyy-MM-dd'T'HH:mm:ss'Z'}; the feed reaches back to "
                + $"{keptFrom:yyyy-MM-dd'T'HH:mm:ss'Z'}. Start again without a cursor, with occurred_from if you know where you stopped.");
        }

        var from = query.OccurredFromFilter is { } occurredFrom && occurredFrom > keptFrom ? occurredFrom : keptFrom;
        var page = await db.EventFeedPageAsync(
            new FeedQuery(partnerId, after, from, query.OccurredToFilter, query.TypeFilter, query.OrderIdFilter, query.PageSize),
            cancellation);
        var end = page.Count > 0 ? FeedCursor.Encode(cursors, partnerId, page[^1].Position) : query.Cursor ?? FeedCursor.Encode(cursors, partnerId, after);
        return TypedResults.Ok(new EventFeedPage(
            [.. page.Select(FeedEventResponse.From)],
            page.Count == query.PageSize ? end : null,
            end));
    }

    public static async Task<Results<Ok<FeedEventResponse>, ProblemHttpResult>> Get(
        Guid id, HttpContext http, OrdersDbContext db, CancellationToken cancellation) =>
        await db.FindEventAsync(http.User.PartnerId(), id, cancellation) is { } found
            ? TypedResults.Ok(FeedEventResponse.From(found))
            : Problems.Result("not_found", $"Event {id} not found.");
}
