using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>Request bodies and calls the order tests share; each test still makes its own data.</summary>
public static class TestOrders
{
    public static JsonObject NewOrder(
        string kind = "one_time",
        string currency = "EUR",
        string? reference = null,
        string? timeZone = null,
        decimal shippingCost = 4.90m,
        params JsonObject[] lines)
    {
        var order = new JsonObject
        {
            ["kind"] = kind,
            ["currency"] = currency,
            ["customer"] = new JsonObject
            {
                ["ref"] = "cus_1",
                ["email"] = "ada@example.com",
                ["first_name"] = "Ada",
                ["last_name"] = "Lovelace",
            },
            ["lines"] = new JsonArray(lines.Length > 0
                ? [.. lines]
                : [Line("SKU-1", 2, 10.00m), Line("SKU-2", 1, 5.50m)]),
            ["shipping_cost"] = shippingCost,
        };
        if (kind == "recurring")
        {
            order["billing_period"] = "monthly";
        }

        if (reference is not null)
        {
            order["reference"] = reference;
        }

        if (timeZone is not null)
        {
            order["time_zone"] = timeZone;
        }

        return order;
    }

    public static JsonObject Line(string sku, int quantity, decimal unitPrice, decimal discount = 0m, decimal taxRate = 0m) => new()
    {
        ["sku"] = sku,
        ["name"] = $"Item {sku}",
        ["quantity"] = quantity,
        ["unit_price"] = unitPrice,
        ["discount"] = discount,
        ["tax_rate"] = taxRate,
    };

    public static async Task<JsonElement> CreateOrderAsync(this HttpClient client, JsonObject? order = null)
    {
        var response = await client.PostAsync("/v1/orders", Requests.Json(order ?? NewOrder()));
        return await response.ShouldBeAsync(HttpStatusCode.Created);
    }

    public static async Task<JsonElement> GetOrderAsync(this HttpClient client, long id)
    {
        var response = await client.GetAsync($"/v1/orders/{id}");
        return await response.ShouldBeAsync(HttpStatusCode.OK);
    }

    public static long Id(this JsonElement order) => order.GetProperty("id").GetInt64();

    /// <summary>What the database holds for an order: its row version and its events, to show a refusal changed nothing.</summary>
    public static Task<DbState> StateAsync(this IOrdersDatabase database, long orderId) =>
        database.WithDbAsync(async db =>
        {
            var version = await db.Orders.Where(o => o.Id == orderId).Select(o => o.Version).SingleAsync();
            var events = await db.Events.Where(e => e.OrderId == orderId).OrderBy(e => e.Sequence).Select(e => e.Type).ToListAsync();
            var lines = await db.Orders.Where(o => o.Id == orderId).SelectMany(o => o.Lines.Select(l => l.CancelledQuantity)).ToListAsync();
            return new DbState(version, string.Join(",", events), string.Join(",", lines));
        });

    /// <summary>
    /// The template order copied <paramref name="count"/> times under new ids, in one statement (HTTP is far too slow for
    /// the hundreds of thousands a job's test may need), nothing scheduled on the copies.
    /// </summary>
    /// <remarks>Without the command timeout's 30 s: 200,000 copies can take longer on a machine the whole suite shares.</remarks>
    public static Task CopyOrderAsync(this ApiFactory api, long template, int count) =>
        Sql.ExecuteAsync(
            new Npgsql.NpgsqlConnectionStringBuilder(api.ConnectionString) { CommandTimeout = 0 }.ConnectionString, CopiesSql, ("template", template), ("count", count));

    private const string CopiesSql = """
        WITH copies AS (
            INSERT INTO orders (id, partner_id, kind, status, reference, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, next_change_due_at, cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, scheduled_cancellation, scheduled_reactivation, expires_at)
            SELECT nextval('orders_hilo_seq'), partner_id, kind, status, NULL, channel, currency, time_zone, billing_period,
                shipping_cost, shipping_waived, amount_paid, metadata, NULL, cancelled_at, reactivated_at,
                created_at, updated_at, version, customer_email, customer_first_name, customer_last_name, customer_phone,
                customer_ref, cancellations, payment, NULL, NULL, NULL
            FROM orders, generate_series(1, @count) WHERE id = @template
            RETURNING id)
        INSERT INTO order_lines (id, order_id, sku, name, quantity, cancelled_quantity, unit_price, discount, tax_rate, metadata)
        SELECT nextval('order_line_ids'), c.id, l.sku, l.name, l.quantity, l.cancelled_quantity, l.unit_price, l.discount, l.tax_rate, l.metadata
        FROM copies c CROSS JOIN order_lines l WHERE l.order_id = @template
        """;

    public static Task<int> OrderCountAsync(this ApiFactory api, Guid partnerId) =>
        api.WithDbAsync(db => db.Orders.CountAsync(o => o.PartnerId == partnerId));

    public static Task<int> EventCountAsync(this ApiFactory api, Guid partnerId) =>
        api.WithDbAsync(db => db.Events.CountAsync(e => e.PartnerId == partnerId));
}

public sealed record DbState(int Version, string Events, string CancelledQuantities);
