using System.Data.Common;
using System.Globalization;
using Npgsql;

using static OrderCancel.Api.Persistence.SqlParameters;

namespace OrderCancel.Api.Persistence;

/// <summary>Where an event stands in a partner's feed: the writing transaction's id, then the event's sequence.</summary>
/// <param name="OccurredAt">The event's own time, so that a cursor knows when it falls out of the feed's window.</param>
public sealed record FeedPosition(ulong TransactionId, long Sequence, DateTimeOffset OccurredAt)
{
    /// <summary>Before every event.</summary>
    public static FeedPosition Start(DateTimeOffset now) => new(0, 0, now);
}

/// <summary>One event of the feed and where it stands.</summary>
public sealed record FeedEvent(Guid Id, string Type, long? OrderId, DateTimeOffset OccurredAt, string Actor, byte[] Data, FeedPosition Position);

/// <summary>What a page of the feed asks for: the partner's events after <paramref name="After"/>, within the filters.</summary>
public sealed record FeedQuery(
    Guid PartnerId, FeedPosition After, DateTimeOffset From, DateTimeOffset? To, string[]? Types, long? OrderId, int Limit);

/// <summary>What a recovery queues: the endpoint's partner's events of its types (each named: not <c>*</c>) in a window.</summary>
/// <param name="Limit">Deliveries to queue at most.</param>
public sealed record RecoveryQuery(Guid EndpointId, Guid PartnerId, string[] Types, DateTimeOffset Since, DateTimeOffset? Until, bool IncludeSucceeded, DateTimeOffset Now, int Limit);

/// <summary>What a recovery queued, and where the next one continues (null: everything in the window was queued).</summary>
public sealed record RecoveryResult(int Queued, DateTimeOffset? NextSince);

/// <summary>
/// The events feed's SQL (SPEC §12), by hand: EF Core has no form for the <c>xid8</c> column or the snapshot bound.
/// </summary>
/// <remarks>
/// Events commit in another order than their sequence was taken (a transaction that began first may commit last), so
/// paging by sequence would skip an event that commits after a page went past it. Each event keeps the id of the
/// transaction that wrote it (<c>tx_id</c>); the feed shows only events of transactions older than the oldest one still
/// running (<c>pg_snapshot_xmin</c>), all of which have ended, in (transaction, sequence) order. A transaction still
/// running, or one that starts later, has an id at or above that bound, so whatever it commits sorts after every
/// position the feed has handed out: a cursor never misses an event and never sees one twice. The price: an event
/// appears once every transaction that began before it has ended (milliseconds here; a long transaction holds the
/// feed back for as long as it runs).
/// </remarks>
internal static class EventRows
{
    private const string Columns = "e.id, e.type, e.order_id, e.occurred_at, e.actor, convert_to(e.data::text, 'UTF8'), e.tx_id::text, e.sequence";

    private const string FeedSql = $"""
        SELECT {Columns} FROM order_events e
        WHERE e.partner_id = $1
          AND (e.tx_id, e.sequence) > ($2::text::xid8, $3)
          AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
          AND e.occurred_at >= $4
          AND ($5::timestamptz IS NULL OR e.occurred_at < $5)
          AND ($6::text[] IS NULL OR e.type = ANY($6))
          AND ($7::bigint IS NULL OR e.order_id = $7)
        ORDER BY e.tx_id, e.sequence
        LIMIT $8
        """;

    private const string FindSql = $"SELECT {Columns} FROM order_events e WHERE e.id = $1 AND e.partner_id = $2";

    /// <summary>
    /// Oldest first, at most <c>$8</c>; an event that already has a delivery to the endpoint that succeeded (unless asked)
    /// or is still pending is left out. Each new delivery is due a microsecond after the one before, so the dispatcher
    /// sends them in the events' order. When more remain, the cut falls before the first left out, and never inside one
    /// instant: <c>next_since</c> is that event's time, so a call from there sees none of this one's events again
    /// (with <c>include_succeeded</c> too). Answers how many were queued and <c>next_since</c> (null: nothing left).
    /// </summary>
    private const string RecoverSql = """
        WITH candidates AS MATERIALIZED (
            SELECT e.id, e.partner_id, e.type, e.occurred_at, e.sequence
            FROM order_events e
            WHERE e.partner_id = $2
              AND e.type = ANY($3)
              AND e.occurred_at >= $4
              AND ($5::timestamptz IS NULL OR e.occurred_at < $5)
              AND NOT EXISTS (
                    SELECT 1 FROM webhook_deliveries d
                    WHERE d.endpoint_id = $1 AND d.event_id = e.id
                      AND (d.status = 'pending' OR (d.status = 'succeeded' AND NOT $6)))
            ORDER BY e.occurred_at, e.sequence
            LIMIT $8 + 1
        ), cut AS (
            SELECT (SELECT c.occurred_at FROM candidates c ORDER BY c.occurred_at, c.sequence OFFSET $8 LIMIT 1) AS next_since
        ), inserted AS (
            INSERT INTO webhook_deliveries (id, endpoint_id, partner_id, event_id, event_type, status, attempts, next_attempt_at, created_at)
            SELECT gen_random_uuid(), $1, c.partner_id, c.id, c.type, 'pending', 0,
                   $7 + (row_number() OVER (ORDER BY c.occurred_at, c.sequence)) * interval '1 microsecond', $7
            FROM candidates c, cut
            WHERE cut.next_since IS NULL OR c.occurred_at < cut.next_since
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM inserted), cut.next_since FROM cut
        """;

    public static async Task<List<FeedEvent>> PageAsync(NpgsqlConnection connection, FeedQuery query, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(FeedSql, connection)
        {
            Parameters =
            {
                Value(query.PartnerId),
                Value(query.After.TransactionId.ToString(CultureInfo.InvariantCulture)),
                Value(query.After.Sequence),
                Value(query.From.ToUniversalTime()),
                OrNull(query.To?.ToUniversalTime()),
                OrNull(query.Types),
                OrNull(query.OrderId),
                Value(query.Limit),
            },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        List<FeedEvent> events = [];
        while (await reader.ReadAsync(cancellation))
        {
            events.Add(Read(reader));
        }

        return events;
    }

    public static async Task<FeedEvent?> FindAsync(NpgsqlConnection connection, Guid partnerId, Guid id, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(FindSql, connection) { Parameters = { Value(id), Value(partnerId) } };
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        return await reader.ReadAsync(cancellation) ? Read(reader) : null;
    }

    /// <summary>Queues the deliveries of a recovery in the current transaction; answers how many and where to continue.</summary>
    public static async Task<RecoveryResult> RecoverAsync(NpgsqlConnection connection, DbTransaction? transaction, RecoveryQuery query, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(RecoverSql, connection, (NpgsqlTransaction?)transaction)
        {
            CommandTimeout = 120,
            Parameters =
            {
                Value(query.EndpointId),
                Value(query.PartnerId),
                Value(query.Types),
                Value(query.Since.ToUniversalTime()),
                OrNull(query.Until?.ToUniversalTime()),
                Value(query.IncludeSucceeded),
                Value(query.Now.ToUniversalTime()),
                Value(query.Limit),
            },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        await reader.ReadAsync(cancellation);
        return new RecoveryResult((int)reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }

    private static FeedEvent Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? null : reader.GetInt64(2),
        reader.GetFieldValue<DateTimeOffset>(3),
        reader.GetString(4),
        reader.GetFieldValue<byte[]>(5),
        new FeedPosition(ulong.Parse(reader.GetString(6), CultureInfo.InvariantCulture), reader.GetInt64(7), reader.GetFieldValue<DateTimeOffset>(3)));
}
