using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.Http;
using OrderCancel.Domain;
using static OrderCancel.Api.Persistence.SqlParameters;
using LoadedOrder = (OrderCancel.Domain.OrderSnapshot Snapshot, System.Collections.Generic.List<OrderCancel.Domain.LineSnapshot> Lines);

namespace OrderCancel.Api.Persistence;

/// <summary>
/// The order aggregate's hot SQL, written by hand: reading an order, locking it, the scheduler's batch, and saving
/// what a change did. EF Core maps the same tables and does everything else (migrations, creating orders, lists,
/// events). Why by hand: EF's change tracking and unit of work were most of a cancel's CPU (bench/HISTORY.md).
/// </summary>
/// <remarks>
/// The JSON columns keep the layout EF Core gives complex types (property names as declared, enums as their
/// snake_case names), so either side reads what the other wrote.
/// </remarks>
internal static class OrderRows
{
    /// <summary>The order's columns, as <c>o.*</c>; also read by a statement of another table's that locks orders (a job's claim, <see cref="ReadClaimedAsync"/>).</summary>
    internal const string OrderColumns = """
        o.id, o.partner_id, o.kind, o.status, o.reference, o.channel, o.currency, o.time_zone, o.billing_period,
        o.customer_ref, o.customer_email, o.customer_first_name, o.customer_last_name, o.customer_phone,
        o.shipping_cost, o.shipping_waived, o.amount_paid, o.payment, o.metadata, o.scheduled_cancellation,
        o.scheduled_reactivation, o.cancellations, o.cancelled_at, o.reactivated_at, o.created_at, o.updated_at, o.version,
        o.expires_at
        """;

    private const int OrderColumnCount = 28;

    private const string LineColumns =
        "l.order_id, l.id, l.sku, l.name, l.quantity, l.cancelled_quantity, l.unit_price, l.discount, l.tax_rate, l.metadata";

    /// <summary>One statement, so the order and its lines come from one snapshot.</summary>
    private const string FindSql = $"""
        SELECT {OrderColumns}, {LineColumns}
        FROM orders o JOIN order_lines l ON l.order_id = o.id
        WHERE o.id = $1 AND o.partner_id = $2
        ORDER BY l.id
        """;

    private const string LockSql = $"SELECT {OrderColumns} FROM orders o WHERE o.id = $1 AND o.partner_id = $2 FOR UPDATE";

    private const string LockDueSql = $"""
        SELECT {OrderColumns} FROM orders o
        WHERE o.next_change_due_at <= $1 AND ($2::uuid IS NULL OR o.partner_id = $2)
        ORDER BY o.next_change_due_at LIMIT $3
        FOR UPDATE SKIP LOCKED
        """;

    private const string LinesSql = $"SELECT {LineColumns} FROM order_lines l WHERE l.order_id = $1 ORDER BY l.id";

    private const string LinesOfOrdersSql = $"SELECT {LineColumns} FROM order_lines l WHERE l.order_id = ANY($1) ORDER BY l.order_id, l.id";

    // Saving one order (a request's change) takes plain statements: PostgreSQL runs them for about half the CPU of the
    // unnest forms below, which save the scheduler's batch of hundreds of orders in three statements.

    /// <summary>The lines' cancelled quantities, by line id; a line whose quantity did not change is not written.</summary>
    private const string SaveOrderLinesSql = """
        UPDATE order_lines AS l SET cancelled_quantity = v.cancelled_quantity
        FROM unnest($2::bigint[], $3::int[]) AS v(id, cancelled_quantity)
        WHERE l.order_id = $1 AND l.id = v.id AND l.cancelled_quantity <> v.cancelled_quantity
        """;

    /// <summary>Every column a change can touch; the version the row had when loaded guards against a lost update.</summary>
    private const string SaveOrderSql = """
        UPDATE orders SET status = $3, shipping_waived = $4, amount_paid = $5, payment = $6::jsonb,
            scheduled_cancellation = $7::jsonb, scheduled_reactivation = $8::jsonb, next_change_due_at = $9,
            cancellations = $10::jsonb, cancelled_at = $11, reactivated_at = $12, updated_at = $13, version = $14,
            expires_at = $15
        WHERE id = $1 AND version = $2
        """;

    /// <summary>Inserting an event also writes its webhook outbox rows, by a trigger (the baseline migration; schema.sql shows it).</summary>
    private const string InsertEventSql = """
        INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
        VALUES ($1, $2, $3, $4, $5, $6, $7::json)
        """;

    /// <summary>A line whose quantity did not change is matched but not written.</summary>
    private const string SaveLinesSql = """
        UPDATE order_lines AS l SET cancelled_quantity = v.cancelled_quantity
        FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS v(order_id, id, cancelled_quantity)
        WHERE l.order_id = v.order_id AND l.id = v.id AND l.cancelled_quantity <> v.cancelled_quantity
        """;

    private const string SaveOrdersSql = """
        UPDATE orders AS o SET status = v.status, shipping_waived = v.shipping_waived, amount_paid = v.amount_paid,
            payment = v.payment, scheduled_cancellation = v.scheduled_cancellation,
            scheduled_reactivation = v.scheduled_reactivation, next_change_due_at = v.next_change_due_at,
            cancellations = v.cancellations, cancelled_at = v.cancelled_at, reactivated_at = v.reactivated_at,
            updated_at = v.updated_at, version = v.version, expires_at = v.expires_at
        FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::boolean[], $6::numeric[], $7::jsonb[], $8::jsonb[],
                    $9::jsonb[], $10::timestamptz[], $11::jsonb[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
                    $15::timestamptz[])
            AS v(id, loaded_version, version, status, shipping_waived, amount_paid, payment, scheduled_cancellation,
                 scheduled_reactivation, next_change_due_at, cancellations, cancelled_at, reactivated_at, updated_at, expires_at)
        WHERE o.id = v.id AND o.version = v.loaded_version
        """;

    private const string InsertEventsSql = """
        INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::json[])
        """;

    /// <summary>How EF Core lays out complex types stored as JSON.</summary>
    private static readonly JsonSerializerOptions StoredJson = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public static async Task<Order?> FindAsync(NpgsqlConnection connection, Guid partnerId, long id, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(FindSql, connection) { Parameters = { Value(id), Value(partnerId) } };
        await PreparedStatements.PrepareAsync(command, cancellation);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        if (!await reader.ReadAsync(cancellation))
        {
            return null;
        }

        var (snapshot, lines) = ReadOrder(reader);
        do
        {
            lines.Add(ReadLine(reader, OrderColumnCount));
        }
        while (await reader.ReadAsync(cancellation));

        return Order.FromSnapshot(snapshot);
    }

    /// <summary>Locks the order's row until the transaction ends, then reads its lines.</summary>
    /// <remarks>
    /// Two statements of one batch on purpose. Locking inside a joined query is wrong under READ COMMITTED: a
    /// request that waited for the lock sees the order row as committed by the one before it, but the lines as
    /// they were when its query started, so racing partial cancels would all pass (the fifty-cancels test shows
    /// it). The lines statement starts after the lock is held, so it sees everything the last holder wrote.
    /// </remarks>
    public static async Task<Order?> LockAsync(
        NpgsqlConnection connection, DbTransaction? transaction, Guid partnerId, long id, CancellationToken cancellation)
    {
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(LockSql) { Parameters = { Value(id), Value(partnerId) } },
                new NpgsqlBatchCommand(LinesSql) { Parameters = { Value(id) } },
            },
        };
        await PreparedStatements.PrepareAsync(batch, cancellation);
        await using var reader = await batch.ExecuteReaderAsync(cancellation);
        var orders = await ReadOrdersAsync(reader, cancellation);
        await reader.NextResultAsync(cancellation);
        return (await ReadLinesAsync(reader, orders, cancellation)).SingleOrDefault();
    }

    /// <summary>
    /// Locks up to <paramref name="limit"/> orders with a scheduled change due by <paramref name="asOf"/>, skipping
    /// those another sweep holds, and loads them.
    /// </summary>
    public static Task<IReadOnlyList<Order>> LockDueAsync(
        NpgsqlConnection connection,
        DbTransaction? transaction,
        DateTimeOffset asOf,
        Guid? partnerId,
        int limit,
        CancellationToken cancellation) =>
        ReadWithLinesAsync(
            new NpgsqlCommand(LockDueSql, connection, (NpgsqlTransaction?)transaction)
            {
                Parameters = { Value(asOf), new NpgsqlParameter { Value = partnerId ?? (object)DBNull.Value }, Value(limit) },
            },
            cancellation);

    /// <summary>Runs <paramref name="orderQuery"/>, then (after any locks it takes are held) reads the lines of what it found.</summary>
    private static async Task<IReadOnlyList<Order>> ReadWithLinesAsync(NpgsqlCommand orderQuery, CancellationToken cancellation)
    {
        Dictionary<long, LoadedOrder> orders;
        await using (orderQuery)
        await using (var reader = await orderQuery.ExecuteReaderAsync(cancellation))
        {
            orders = await ReadOrdersAsync(reader, cancellation);
        }

        return await WithLinesAsync(orders, orderQuery.Connection!, orderQuery.Transaction, cancellation);
    }

    /// <summary>
    /// Reads a result whose rows are <see cref="OrderColumns"/> followed by one more column, the id a row was claimed
    /// for (its order columns null when no order of the partner has it), as a job's claim answers it.
    /// Read the orders' lines with <see cref="WithLinesAsync(ClaimedOrders, NpgsqlConnection, DbTransaction?, CancellationToken)"/>
    /// once the reader is done: after the claim's locks are held.
    /// </summary>
    public static async Task<ClaimedOrders> ReadClaimedAsync(NpgsqlDataReader reader, CancellationToken cancellation)
    {
        var claimed = new ClaimedOrders();
        while (await reader.ReadAsync(cancellation))
        {
            claimed.Ids.Add(reader.GetInt64(OrderColumnCount));
            if (!reader.IsDBNull(0))
            {
                var order = ReadOrder(reader);
                claimed.Found.Add(order.Snapshot.Id, order);
            }
        }

        return claimed;
    }

    /// <summary>The claimed orders with their lines, read now (in a statement of its own, so after the claim's locks).</summary>
    public static Task<IReadOnlyList<Order>> WithLinesAsync(
        ClaimedOrders claimed, NpgsqlConnection connection, DbTransaction? transaction, CancellationToken cancellation) =>
        WithLinesAsync(claimed.Found, connection, (NpgsqlTransaction?)transaction, cancellation);

    private static async Task<IReadOnlyList<Order>> WithLinesAsync(
        Dictionary<long, LoadedOrder> orders, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellation)
    {
        if (orders.Count == 0)
        {
            return [];
        }

        await using var lines = new NpgsqlCommand(LinesOfOrdersSql, connection, transaction)
        {
            Parameters = { Value<long[]>([.. orders.Keys]) },
        };
        await using var linesReader = await lines.ExecuteReaderAsync(cancellation);
        return await ReadLinesAsync(linesReader, orders, cancellation);
    }

    /// <summary>What a claim read: every id it claimed, in order, and the orders found among them, still without their lines.</summary>
    public sealed class ClaimedOrders
    {
        public List<long> Ids { get; } = [];

        internal Dictionary<long, LoadedOrder> Found { get; } = [];
    }

    /// <summary>
    /// Writes what the orders' changes did, with the events they recorded, in one round trip: plain statements for
    /// one order, three set-based ones for many. Orders without a recorded event are left alone.
    /// </summary>
    /// <exception cref="DbUpdateConcurrencyException">An order's row was changed since it was loaded.</exception>
    /// <param name="alongside">More statements of the same transaction, sent in the same round trip, after the orders'.</param>
    public static async Task SaveAsync(
        NpgsqlConnection connection,
        DbTransaction? transaction,
        IEnumerable<Order> orders,
        CancellationToken cancellation,
        IReadOnlyList<NpgsqlBatchCommand>? alongside = null)
    {
        List<Order> changed = [.. orders.Where(order => order.PendingEvents.Count > 0)];
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)transaction);
        if (changed.Count == 0)
        {
            if (alongside is { Count: > 0 })
            {
                Add(batch, alongside);
                await batch.ExecuteNonQueryAsync(cancellation);
            }

            return;
        }

        int[] loadedVersions = [.. changed.Select(order => order.Version - order.PendingEvents.Count)];
        var events = OrderEventRecord.TakeFrom(changed);
        if (changed.Count == 1)
        {
            // A request's change: the plain statements, prepared. A job's outcomes (alongside) only come with batches.
            AddSaveOne(batch, changed[0], loadedVersions[0], events);
            if (alongside is null)
            {
                await PreparedStatements.PrepareAsync(batch, cancellation);
            }
        }
        else
        {
            AddSaveMany(batch, changed, loadedVersions, events);
        }

        Add(batch, alongside ?? []);
        await batch.ExecuteNonQueryAsync(cancellation);
        var saved = batch.BatchCommands[1].RecordsAffected;
        if (saved != changed.Count)
        {
            throw new DbUpdateConcurrencyException($"{changed.Count - saved} of {changed.Count} orders changed since they were loaded.");
        }
    }

    private static void Add(NpgsqlBatch batch, IReadOnlyList<NpgsqlBatchCommand> commands)
    {
        foreach (var command in commands)
        {
            batch.BatchCommands.Add(command);
        }
    }

    private static void AddSaveOne(NpgsqlBatch batch, Order order, int loadedVersion, List<OrderEventRecord> events)
    {
        batch.BatchCommands.Add(new NpgsqlBatchCommand(SaveOrderLinesSql)
        {
            Parameters =
            {
                Value(order.Id),
                Value<long[]>([.. order.Lines.Select(line => line.Id)]),
                Value<int[]>([.. order.Lines.Select(line => line.CancelledQuantity)]),
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(SaveOrderSql)
        {
            Parameters =
            {
                Value(order.Id),
                Value(loadedVersion),
                Value(Json.Name(order.Status)),
                Value(order.ShippingWaived),
                Value(order.AmountPaid),
                Value(Stored(order.Payment)),
                Value(Stored(order.ScheduledCancellation)),
                Value(Stored(order.ScheduledReactivation)),
                Value(order.NextChangeDueAt?.ToUniversalTime()),
                Value(Stored(order.Cancellations)),
                Value(order.CancelledAt?.ToUniversalTime()),
                Value(order.ReactivatedAt?.ToUniversalTime()),
                Value(order.UpdatedAt.ToUniversalTime()),
                Value(order.Version),
                Value(order.ExpiresAt?.ToUniversalTime()),
            },
        });
        foreach (var recorded in events)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertEventSql)
            {
                Parameters =
                {
                    Value(recorded.Id),
                    Value(recorded.PartnerId),
                    Value(recorded.OrderId!.Value),
                    Value(recorded.Type),
                    Value(recorded.OccurredAt.ToUniversalTime()),
                    Value(recorded.Actor),
                    Value(recorded.Data),
                },
            });
        }
    }

    private static void AddSaveMany(NpgsqlBatch batch, List<Order> changed, int[] loadedVersions, List<OrderEventRecord> events)
    {
        List<OrderLine> lines = [.. changed.SelectMany(order => order.Lines)];
        batch.BatchCommands.Add(new NpgsqlBatchCommand(SaveLinesSql)
        {
            Parameters =
            {
                Value<long[]>([.. changed.SelectMany(order => order.Lines.Select(_ => order.Id))]),
                Value<long[]>([.. lines.Select(line => line.Id)]),
                Value<int[]>([.. lines.Select(line => line.CancelledQuantity)]),
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(SaveOrdersSql)
        {
            Parameters =
            {
                Value<long[]>([.. changed.Select(order => order.Id)]),
                Value(loadedVersions),
                Value<int[]>([.. changed.Select(order => order.Version)]),
                Value<string[]>([.. changed.Select(order => Json.Name(order.Status))]),
                Value<bool[]>([.. changed.Select(order => order.ShippingWaived)]),
                Value<decimal[]>([.. changed.Select(order => order.AmountPaid)]),
                Value<string?[]>([.. changed.Select(order => Stored(order.Payment))]),
                Value<string?[]>([.. changed.Select(order => Stored(order.ScheduledCancellation))]),
                Value<string?[]>([.. changed.Select(order => Stored(order.ScheduledReactivation))]),
                Value<DateTimeOffset?[]>([.. changed.Select(order => order.NextChangeDueAt?.ToUniversalTime())]),
                Value<string?[]>([.. changed.Select(order => Stored(order.Cancellations))]),
                Value<DateTimeOffset?[]>([.. changed.Select(order => order.CancelledAt?.ToUniversalTime())]),
                Value<DateTimeOffset?[]>([.. changed.Select(order => order.ReactivatedAt?.ToUniversalTime())]),
                Value<DateTimeOffset[]>([.. changed.Select(order => order.UpdatedAt.ToUniversalTime())]),
                Value<DateTimeOffset?[]>([.. changed.Select(order => order.ExpiresAt?.ToUniversalTime())]),
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertEventsSql)
        {
            Parameters =
            {
                Value<Guid[]>([.. events.Select(e => e.Id)]),
                Value<Guid[]>([.. events.Select(e => e.PartnerId)]),
                Value<long[]>([.. events.Select(e => e.OrderId!.Value)]),
                Value<string[]>([.. events.Select(e => e.Type)]),
                Value<DateTimeOffset[]>([.. events.Select(e => e.OccurredAt.ToUniversalTime())]),
                Value<string[]>([.. events.Select(e => e.Actor)]),
                Value<string[]>([.. events.Select(e => e.Data)]),
            },
        });
    }

    private static async Task<Dictionary<long, LoadedOrder>> ReadOrdersAsync(
        NpgsqlDataReader reader, CancellationToken cancellation)
    {
        var orders = new Dictionary<long, LoadedOrder>();
        while (await reader.ReadAsync(cancellation))
        {
            var order = ReadOrder(reader);
            orders.Add(order.Snapshot.Id, order);
        }

        return orders;
    }

    /// <summary>Adds each line to its order, then restores the orders, in the order they were read.</summary>
    private static async Task<IReadOnlyList<Order>> ReadLinesAsync(
        NpgsqlDataReader reader, Dictionary<long, LoadedOrder> orders, CancellationToken cancellation)
    {
        while (await reader.ReadAsync(cancellation))
        {
            if (orders.TryGetValue(reader.GetInt64(0), out var order))
            {
                order.Lines.Add(ReadLine(reader, 0));
            }
        }

        return [.. orders.Values.Select(order => Order.FromSnapshot(order.Snapshot))];
    }

    /// <summary>The order columns of the current row; its lines are added to the list the snapshot holds.</summary>
    private static LoadedOrder ReadOrder(NpgsqlDataReader reader)
    {
        List<LineSnapshot> lines = [];
        var snapshot = new OrderSnapshot
        {
            Id = reader.GetInt64(0),
            PartnerId = reader.GetGuid(1),
            Kind = Json.Parse<OrderKind>(reader.GetString(2)),
            Status = Json.Parse<OrderStatus>(reader.GetString(3)),
            Reference = reader.IsDBNull(4) ? null : reader.GetString(4),
            Channel = reader.GetString(5),
            CurrencyCode = reader.GetString(6),
            TimeZone = reader.GetString(7),
            BillingPeriod = reader.IsDBNull(8) ? null : Json.Parse<BillingPeriod>(reader.GetString(8)),
            Customer = new Customer(
                reader.GetString(9),
                reader.GetString(10),
                reader.GetString(11),
                reader.GetString(12),
                reader.IsDBNull(13) ? null : reader.GetString(13)),
            Lines = lines,
            ShippingCost = reader.GetDecimal(14),
            ShippingWaived = reader.GetBoolean(15),
            AmountPaid = reader.GetDecimal(16),
            Payment = FromStored<Payment>(reader, 17),
            Metadata = reader.GetString(18),
            ScheduledCancellation = FromStored<ScheduledCancellation>(reader, 19),
            ScheduledReactivation = FromStored<ScheduledReactivation>(reader, 20),
            Cancellations = FromStored<List<Cancellation>>(reader, 21) ?? [],
            CancelledAt = reader.IsDBNull(22) ? null : reader.GetFieldValue<DateTimeOffset>(22),
            ReactivatedAt = reader.IsDBNull(23) ? null : reader.GetFieldValue<DateTimeOffset>(23),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(24),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(25),
            Version = reader.GetInt32(26),
            ExpiresAt = reader.IsDBNull(27) ? null : reader.GetFieldValue<DateTimeOffset>(27),
        };
        return (snapshot, lines);
    }

    /// <summary>The line columns starting at <paramref name="at"/> (<see cref="LineColumns"/>, order id first).</summary>
    private static LineSnapshot ReadLine(NpgsqlDataReader reader, int at) => new(
        reader.GetInt64(at + 1),
        reader.GetString(at + 2),
        reader.GetString(at + 3),
        reader.GetInt32(at + 4),
        reader.GetInt32(at + 5),
        reader.GetDecimal(at + 6),
        reader.GetDecimal(at + 7),
        reader.GetDecimal(at + 8),
        reader.GetString(at + 9));

    private static T? FromStored<T>(NpgsqlDataReader reader, int ordinal)
        where T : class =>
        reader.IsDBNull(ordinal) ? null : JsonSerializer.Deserialize<T>(reader.GetString(ordinal), StoredJson);

    private static string? Stored<T>(T? value)
        where T : class =>
        value is null ? null : JsonSerializer.Serialize(value, StoredJson);

}
