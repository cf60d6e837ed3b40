using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using OrderCancel.Api.Http;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Events;

/// <summary>Filters and paging for <c>GET /v1/events</c>; oldest first.</summary>
public sealed class EventFeedQuery
{
    public const int DefaultLimit = 100;

    /// <summary>The <c>next_cursor</c> (or <c>resume_cursor</c>) of a page before; leave out to start at the oldest event kept.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }

    /// <summary>Event types, comma-separated (<c>order.cancelled,order.partially_cancelled</c>); all when left out.</summary>
    [FromQuery(Name = "types")]
    public string? Types { get; init; }

    /// <summary>One order's events.</summary>
    [FromQuery(Name = "order_id")]
    public string? OrderId { get; init; }

    /// <summary>Events that occurred at or after this instant (ISO 8601 with its offset).</summary>
    [FromQuery(Name = "occurred_from")]
    [DataType(DataType.DateTime)]
    public string? OccurredFrom { get; init; }

    /// <summary>Events that occurred before this instant (ISO 8601 with its offset).</summary>
    [FromQuery(Name = "occurred_to")]
    [DataType(DataType.DateTime)]
    public string? OccurredTo { get; init; }

    /// <summary>1 to 100; default 100.</summary>
    [FromQuery(Name = "limit")]
    [Range(1, 100)]
    [DefaultValue(DefaultLimit)]
    public string? Limit { get; init; }

    public int PageSize => int.TryParse(Limit, out var limit) ? limit : DefaultLimit;

    public string[]? TypeFilter => Types?.Split(',', StringSplitOptions.TrimEntries);

    public long? OrderIdFilter => long.TryParse(OrderId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    public DateTimeOffset? OccurredFromFilter => Instants.Parse(OccurredFrom);

    public DateTimeOffset? OccurredToFilter => Instants.Parse(OccurredTo);

    public FeedPosition? After(Cursors cursors, Guid partnerId) => FeedCursor.TryDecode(cursors, partnerId.ToString(), Cursor, out var position) ? position : null;
}

public sealed class EventFeedQueryValidator : AbstractValidator<EventFeedQuery>
{
    public EventFeedQueryValidator(Cursors cursors)
    {
        RuleFor(q => q.Cursor)
            .Must((query, cursor, context) => cursor is null || FeedCursor.TryDecode(cursors, Cursors.CallerIn(context), cursor, out _))
            .WithMessage(Cursors.NotOurs);
        RuleFor(q => q.Types)
            .Must(types => types is null || types.Split(',', StringSplitOptions.TrimEntries).All(EventTypes.All.Contains))
            .WithMessage($"Must be event types separated by commas, each one of: {string.Join(", ", EventTypes.All)}.");
        RuleFor(q => q.OrderId)
            .Must(id => id is null || long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
            .WithMessage("Must be an order id (a whole number).");
        RuleFor(q => q.OccurredFrom)
            .Must(text => text is null || Instants.Parse(text) is not null)
            .WithMessage("Must be an ISO 8601 instant with an offset, e.g. 2026-01-31T00:00:00Z.");
        RuleFor(q => q.OccurredTo)
            .Must(text => text is null || Instants.Parse(text) is not null)
            .WithMessage("Must be an ISO 8601 instant with an offset, e.g. 2026-02-01T00:00:00Z.")
            .Must((query, _) => query.OccurredFromFilter is not { } from || query.OccurredToFilter is not { } to || from < to)
            .WithMessage("Must be after occurred_from.");
        RuleFor(q => q.Limit).MustBeALimit();
    }
}

/// <summary>A feed position as clients hold it: opaque, URL-safe, and checked when it comes back.</summary>
public static class FeedCursor
{
    private const string List = "events";

    public static string Encode(Cursors cursors, Guid partnerId, FeedPosition position) => cursors.Seal(List, partnerId.ToString(), string.Create(
        CultureInfo.InvariantCulture,
        $"{position.TransactionId}.{position.Sequence}.{position.OccurredAt.ToUnixTimeMilliseconds()}"));

    public static bool TryDecode(Cursors cursors, string partnerId, string? text, out FeedPosition position)
    {
        position = FeedPosition.Start(DateTimeOffset.UnixEpoch);
        if (!cursors.TryOpen(List, partnerId, text, out var sealedPosition)
            || sealedPosition.Split('.') is not [var transaction, var sequence, var millis]
            || !ulong.TryParse(transaction, NumberStyles.None, CultureInfo.InvariantCulture, out var transactionId)
            || !long.TryParse(sequence, NumberStyles.None, CultureInfo.InvariantCulture, out var sequenceNumber)
            || !long.TryParse(millis, NumberStyles.None, CultureInfo.InvariantCulture, out var unixMillis)
            || unixMillis > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return false;
        }

        position = new FeedPosition(transactionId, sequenceNumber, DateTimeOffset.FromUnixTimeMilliseconds(unixMillis));
        return true;
    }
}
