using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using OrderCancel.Domain;

// The raw baseline: GET /v1/orders/{id} and a full immediate POST /v1/orders/{id}/cancel over
// the service's own schema with hand-written Npgsql SQL. It reads and writes the same rows (key lookup,
// order row, lines; lines, order row and event on cancel) and writes the same JSON, so that
// "service ÷ raw" measures what the service's layers cost. Nothing else: no validation, no problems
// beyond the two the scenarios can meet, no idempotency, no logging. It renders the orders the scenarios
// touch (no earlier cancellations or schedules) exactly as the service does; older history is passed through.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var dataSource = NpgsqlDataSource.Create(builder.Configuration.GetConnectionString("Orders")
    ?? throw new InvalidOperationException("Set ConnectionStrings__Orders."));
// The same statement preparation as the service (Persistence/PreparedStatements.cs): explicit, on by default.
Raw.Prepare = builder.Configuration.GetValue("Database:PrepareStatements", defaultValue: true);
var app = builder.Build();

app.MapGet("/v1/orders/{id:long}", async (long id, HttpContext http) =>
{
    await using var connection = await dataSource.OpenConnectionAsync(http.RequestAborted);
    if (await Raw.AuthenticateAsync(connection, http) is not { } caller)
    {
        http.Response.StatusCode = 401;
        return;
    }

    var order = await Raw.LoadAsync(connection, null, caller.PartnerId, id, forUpdate: false, http.RequestAborted);
    if (order is null)
    {
        http.Response.StatusCode = 404;
        return;
    }

    http.Response.Headers.ETag = $"\"{order.Version}\"";
    http.Response.ContentType = "application/json; charset=utf-8";
    await Raw.WriteAsync(http, writer => Raw.WriteOrder(writer, order));
});

app.MapPost("/v1/orders/{id:long}/cancel", async (long id, HttpContext http) =>
{
    using var body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
    var reason = body.RootElement.GetProperty("reason").GetString()!;
    await using var connection = await dataSource.OpenConnectionAsync(http.RequestAborted);
    if (await Raw.AuthenticateAsync(connection, http) is not { } caller)
    {
        http.Response.StatusCode = 401;
        return;
    }

    await using var transaction = await connection.BeginTransactionAsync(http.RequestAborted);
    var order = await Raw.LoadAsync(connection, transaction, caller.PartnerId, id, forUpdate: true, http.RequestAborted);
    if (order is null)
    {
        http.Response.StatusCode = 404;
        return;
    }

    if (order.Status is not ("pending" or "active"))
    {
        http.Response.StatusCode = 400;
        return;
    }

    var now = DateTimeOffset.UtcNow;
    var eventId = Guid.CreateVersion7(now);
    var before = Raw.Total(order);
    var items = order.Lines.Where(l => l.Quantity > l.CancelledQuantity).Select(l => (l.Id, Quantity: l.Quantity - l.CancelledQuantity)).ToList();
    var releasedShipping = !order.ShippingWaived;
    var previousStatus = order.Status;
    foreach (var line in order.Lines)
    {
        line.CancelledQuantity = line.Quantity;
    }

    order.Status = "cancelled";
    order.ShippingWaived = true;
    order.Version++;
    order.UpdatedAt = now;
    order.CancelledAt = now;
    var released = before - Raw.Total(order);
    var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, TimeZones.Find(order.TimeZone)).DateTime);
    order.Cancellations.Add(new Raw.CancellationRow(eventId, items, reason, today, now, released, releasedShipping, $"api_key:{caller.KeyId}"));

    var stored = Raw.StoredCancellation(order.Cancellations[^1], previousStatus);
    var data = Raw.Serialize(writer =>
    {
        writer.WriteStartObject();
        writer.WritePropertyName("order");
        Raw.WriteOrder(writer, order);
        writer.WriteEndObject();
    });

    await using (var batch = new NpgsqlBatch(connection, transaction))
    {
        batch.BatchCommands.Add(new NpgsqlBatchCommand("UPDATE order_lines SET cancelled_quantity = quantity WHERE order_id = $1")
        {
            Parameters = { new() { Value = id } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            UPDATE orders SET status = 'cancelled', shipping_waived = TRUE, cancellations = cancellations || $2::jsonb,
                cancelled_at = $3, updated_at = $3, scheduled_cancellation = NULL, next_change_due_at = NULL, version = $4
            WHERE id = $1
            """)
        {
            Parameters = { new() { Value = id }, new() { Value = "[" + stored + "]" }, new() { Value = now }, new() { Value = order.Version } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            VALUES ($1, $2, $3, 'order.cancelled', $4, $5, $6::json)
            """)
        {
            Parameters =
            {
                new() { Value = eventId }, new() { Value = caller.PartnerId }, new() { Value = id },
                new() { Value = now }, new() { Value = $"api_key:{caller.KeyId}" }, new() { Value = data },
            },
        });
        await Raw.PrepareAsync(batch, http.RequestAborted);
        await batch.ExecuteNonQueryAsync(http.RequestAborted);
    }

    await transaction.CommitAsync(http.RequestAborted);
    http.Response.Headers.ETag = $"\"{order.Version}\"";
    http.Response.ContentType = "application/json; charset=utf-8";
    await Raw.WriteAsync(http, writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("event_id", eventId);
        writer.WritePropertyName("order");
        Raw.WriteOrder(writer, order);
        writer.WriteEndObject();
    });
});

app.Run();

internal static class Raw
{
    /// <summary>Whether the statements are prepared explicitly, as the service's are.</summary>
    public static bool Prepare { get; set; } = true;

    public static Task PrepareAsync(NpgsqlBatch batch, CancellationToken cancellation) =>
        Prepare ? batch.PrepareAsync(cancellation) : Task.CompletedTask;

    public static async Task<(Guid PartnerId, Guid KeyId)?> AuthenticateAsync(NpgsqlConnection connection, HttpContext http)
    {
        string? header = http.Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return null;
        }

        await using var command = new NpgsqlCommand("SELECT id, partner_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL", connection)
        {
            Parameters = { new() { Value = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim())) } },
        };
        if (Prepare)
        {
            await command.PrepareAsync(http.RequestAborted);
        }

        await using var reader = await command.ExecuteReaderAsync(http.RequestAborted);
        return await reader.ReadAsync(http.RequestAborted) ? (reader.GetGuid(1), reader.GetGuid(0)) : null;
    }

    public static async Task<OrderRow?> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid partnerId, long id, bool forUpdate, CancellationToken cancellation)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            SELECT id, kind, status, reference, channel, currency, time_zone, billing_period, customer_ref, customer_email,
                   customer_first_name, customer_last_name, customer_phone, shipping_cost, shipping_waived, amount_paid,
                   payment::text, metadata::text, scheduled_cancellation::text, scheduled_reactivation::text, cancellations::text,
                   cancelled_at, reactivated_at, created_at, updated_at, version
            FROM orders WHERE id = $1 AND partner_id = $2 {(forUpdate ? "FOR UPDATE" : "")}
            """)
        {
            Parameters = { new() { Value = id }, new() { Value = partnerId } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            "SELECT id, sku, name, quantity, cancelled_quantity, unit_price, discount, tax_rate, metadata::text FROM order_lines WHERE order_id = $1 ORDER BY id")
        {
            Parameters = { new() { Value = id } },
        });
        await PrepareAsync(batch, cancellation);
        await using var reader = await batch.ExecuteReaderAsync(cancellation);
        if (!await reader.ReadAsync(cancellation))
        {
            return null;
        }

        var order = new OrderRow
        {
            Id = reader.GetInt64(0),
            Kind = reader.GetString(1),
            Status = reader.GetString(2),
            Reference = reader.IsDBNull(3) ? null : reader.GetString(3),
            Channel = reader.GetString(4),
            Currency = reader.GetString(5),
            TimeZone = reader.GetString(6),
            BillingPeriod = reader.IsDBNull(7) ? null : reader.GetString(7),
            CustomerRef = reader.GetString(8),
            CustomerEmail = reader.GetString(9),
            CustomerFirstName = reader.GetString(10),
            CustomerLastName = reader.GetString(11),
            CustomerPhone = reader.IsDBNull(12) ? null : reader.GetString(12),
            ShippingCost = reader.GetDecimal(13),
            ShippingWaived = reader.GetBoolean(14),
            AmountPaid = reader.GetDecimal(15),
            Payment = reader.IsDBNull(16) ? null : reader.GetString(16),
            Metadata = reader.GetString(17),
            ScheduledCancellation = reader.IsDBNull(18) ? null : reader.GetString(18),
            ScheduledReactivation = reader.IsDBNull(19) ? null : reader.GetString(19),
            StoredCancellations = reader.GetString(20),
            CancelledAt = reader.IsDBNull(21) ? null : reader.GetFieldValue<DateTimeOffset>(21),
            ReactivatedAt = reader.IsDBNull(22) ? null : reader.GetFieldValue<DateTimeOffset>(22),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(23),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(24),
            Version = reader.GetInt32(25),
        };
        await reader.NextResultAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            order.Lines.Add(new LineRow
            {
                Id = reader.GetInt64(0),
                Sku = reader.GetString(1),
                Name = reader.GetString(2),
                Quantity = reader.GetInt32(3),
                CancelledQuantity = reader.GetInt32(4),
                UnitPrice = reader.GetDecimal(5),
                Discount = reader.GetDecimal(6),
                TaxRate = reader.GetDecimal(7),
                Metadata = reader.GetString(8),
            });
        }

        return order;
    }

    public static decimal Total(OrderRow order)
    {
        var currency = Currency.Of(order.Currency);
        var lines = order.Lines.Sum(line => Amounts(line, currency).Total);
        var shipping = order.ShippingWaived || order.Status == "cancelled" ? 0m : currency.Round(order.ShippingCost);
        return lines + shipping;
    }

    public static (decimal Subtotal, decimal Discount, decimal Tax, decimal Total) Amounts(LineRow line, Currency currency)
    {
        var active = line.Quantity - line.CancelledQuantity;
        var subtotal = currency.Round(line.UnitPrice * active);
        var discount = currency.Round(currency.Round(line.Discount) * active / line.Quantity);
        var tax = currency.Round((subtotal - discount) * line.TaxRate);
        return (subtotal, discount, tax, subtotal - discount + tax);
    }

    public static void WriteOrder(Utf8JsonWriter writer, OrderRow order)
    {
        var currency = Currency.Of(order.Currency);
        var amounts = order.Lines.Select(line => Amounts(line, currency)).ToList();
        writer.WriteStartObject();
        writer.WriteNumber("id", order.Id);
        writer.WriteString("kind", order.Kind);
        writer.WriteString("status", order.Status);
        writer.WriteString("reference", order.Reference);
        writer.WriteString("channel", order.Channel);
        writer.WriteString("currency", order.Currency);
        writer.WriteString("time_zone", order.TimeZone);
        writer.WriteString("billing_period", order.BillingPeriod);
        writer.WriteStartObject("customer");
        writer.WriteString("ref", order.CustomerRef);
        writer.WriteString("email", order.CustomerEmail);
        writer.WriteString("first_name", order.CustomerFirstName);
        writer.WriteString("last_name", order.CustomerLastName);
        writer.WriteString("phone", order.CustomerPhone);
        writer.WriteEndObject();
        writer.WriteStartArray("lines");
        for (var i = 0; i < order.Lines.Count; i++)
        {
            var line = order.Lines[i];
            writer.WriteStartObject();
            writer.WriteNumber("id", line.Id);
            writer.WriteString("sku", line.Sku);
            writer.WriteString("name", line.Name);
            writer.WriteNumber("quantity", line.Quantity);
            writer.WriteNumber("cancelled_quantity", line.CancelledQuantity);
            writer.WriteNumber("unit_price", line.UnitPrice);
            writer.WriteNumber("discount", line.Discount);
            writer.WriteNumber("tax_rate", line.TaxRate);
            writer.WriteNumber("subtotal", amounts[i].Subtotal);
            writer.WriteNumber("discount_applied", amounts[i].Discount);
            writer.WriteNumber("tax", amounts[i].Tax);
            writer.WriteNumber("total", amounts[i].Total);
            writer.WritePropertyName("metadata");
            writer.WriteRawValue(line.Metadata, skipInputValidation: true);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        var total = Total(order);
        writer.WriteNumber("shipping_cost", order.ShippingCost);
        writer.WriteBoolean("shipping_waived", order.ShippingWaived);
        writer.WriteNumber("subtotal", amounts.Sum(a => a.Subtotal));
        writer.WriteNumber("discount", amounts.Sum(a => a.Discount));
        writer.WriteNumber("tax", amounts.Sum(a => a.Tax));
        writer.WriteNumber("total", total);
        writer.WriteNumber("amount_paid", order.AmountPaid);
        var due = total - order.AmountPaid;
        writer.WriteNumber("amount_due", due < 0m ? 0m : due);
        WriteStored(writer, "payment", order.Payment);
        writer.WritePropertyName("metadata");
        writer.WriteRawValue(order.Metadata, skipInputValidation: true);
        WriteStored(writer, "scheduled_cancellation", order.ScheduledCancellation);
        WriteStored(writer, "scheduled_reactivation", order.ScheduledReactivation);
        writer.WriteStartArray("cancellations");
        using (var stored = JsonDocument.Parse(order.StoredCancellations))
        {
            foreach (var cancellation in stored.RootElement.EnumerateArray())
            {
                WriteSnakeCase(writer, cancellation, skip: "PreviousStatus");
            }
        }

        foreach (var cancellation in order.Cancellations)
        {
            writer.WriteStartObject();
            writer.WriteString("event_id", cancellation.EventId);
            writer.WriteString("type", "full");
            WriteItems(writer, cancellation);
            writer.WriteString("reason", cancellation.Reason);
            writer.WriteNull("note");
            writer.WriteString("effective_date", cancellation.EffectiveDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            writer.WriteString("applied_at", Instant(cancellation.AppliedAt));
            writer.WriteNumber("amount_released", cancellation.AmountReleased);
            writer.WriteBoolean("shipping_waived", cancellation.ShippingWaived);
            writer.WriteBoolean("test", false);
            writer.WriteString("actor", cancellation.Actor);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        WriteInstant(writer, "cancelled_at", order.CancelledAt);
        WriteInstant(writer, "reactivated_at", order.ReactivatedAt);
        WriteInstant(writer, "created_at", order.CreatedAt);
        WriteInstant(writer, "updated_at", order.UpdatedAt);
        writer.WriteNumber("version", order.Version);
        writer.WriteEndObject();
    }

    /// <summary>A cancellation as the service stores it in the order's <c>cancellations</c> column.</summary>
    public static string StoredCancellation(CancellationRow cancellation, string previousStatus) => Serialize(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("EventId", cancellation.EventId);
        writer.WriteString("Type", "full");
        writer.WriteStartArray("Items");
        foreach (var (lineId, quantity) in cancellation.Items)
        {
            writer.WriteStartObject();
            writer.WriteNumber("LineId", lineId);
            writer.WriteNumber("Quantity", quantity);
            writer.WriteString("Reason", cancellation.Reason);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteString("Reason", cancellation.Reason);
        writer.WriteNull("Note");
        writer.WriteString("EffectiveDate", cancellation.EffectiveDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        writer.WriteString("AppliedAt", cancellation.AppliedAt);
        writer.WriteNumber("AmountReleased", cancellation.AmountReleased);
        writer.WriteBoolean("ShippingWaived", cancellation.ShippingWaived);
        writer.WriteBoolean("Test", false);
        writer.WriteString("Actor", cancellation.Actor);
        writer.WriteString("PreviousStatus", previousStatus);
        writer.WriteEndObject();
    });

    public static string Serialize(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static async Task WriteAsync(HttpContext http, Action<Utf8JsonWriter> write)
    {
        await using (var writer = new Utf8JsonWriter(http.Response.BodyWriter))
        {
            write(writer);
        }

        await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
    }

    private static void WriteItems(Utf8JsonWriter writer, CancellationRow cancellation)
    {
        writer.WriteStartArray("items");
        foreach (var (lineId, quantity) in cancellation.Items)
        {
            writer.WriteStartObject();
            writer.WriteNumber("line_id", lineId);
            writer.WriteNumber("quantity", quantity);
            writer.WriteString("reason", cancellation.Reason);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteStored(Utf8JsonWriter writer, string name, string? json)
    {
        if (json is null)
        {
            writer.WriteNull(name);
            return;
        }

        writer.WritePropertyName(name);
        using var document = JsonDocument.Parse(json);
        WriteSnakeCase(writer, document.RootElement, skip: null);
    }

    private static void WriteSnakeCase(Utf8JsonWriter writer, JsonElement element, string? skip)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().Where(p => p.Name != skip))
                {
                    writer.WritePropertyName(JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name));
                    WriteSnakeCase(writer, property.Value, null);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteSnakeCase(writer, item, null);
                }

                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    private static void WriteInstant(Utf8JsonWriter writer, string name, DateTimeOffset? value)
    {
        if (value is { } instant)
        {
            writer.WriteString(name, Instant(instant));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static string Instant(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    public sealed class OrderRow
    {
        public long Id { get; init; }

        public required string Kind { get; init; }

        public required string Status { get; set; }

        public string? Reference { get; init; }

        public required string Channel { get; init; }

        public required string Currency { get; init; }

        public required string TimeZone { get; init; }

        public string? BillingPeriod { get; init; }

        public required string CustomerRef { get; init; }

        public required string CustomerEmail { get; init; }

        public required string CustomerFirstName { get; init; }

        public required string CustomerLastName { get; init; }

        public string? CustomerPhone { get; init; }

        public decimal ShippingCost { get; init; }

        public bool ShippingWaived { get; set; }

        public decimal AmountPaid { get; init; }

        public string? Payment { get; init; }

        public required string Metadata { get; init; }

        public string? ScheduledCancellation { get; init; }

        public string? ScheduledReactivation { get; init; }

        public required string StoredCancellations { get; init; }

        public List<CancellationRow> Cancellations { get; } = [];

        public DateTimeOffset? CancelledAt { get; set; }

        public DateTimeOffset? ReactivatedAt { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset UpdatedAt { get; set; }

        public int Version { get; set; }

        public List<LineRow> Lines { get; } = [];
    }

    public sealed class LineRow
    {
        public long Id { get; init; }

        public required string Sku { get; init; }

        public required string Name { get; init; }

        public int Quantity { get; init; }

        public int CancelledQuantity { get; set; }

        public decimal UnitPrice { get; init; }

        public decimal Discount { get; init; }

        public decimal TaxRate { get; init; }

        public required string Metadata { get; init; }
    }

    public sealed record CancellationRow(
        Guid EventId,
        List<(long LineId, int Quantity)> Items,
        string Reason,
        DateOnly EffectiveDate,
        DateTimeOffset AppliedAt,
        decimal AmountReleased,
        bool ShippingWaived,
        string Actor);
}
