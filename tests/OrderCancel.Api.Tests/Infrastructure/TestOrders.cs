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
    public static Task<DbState> StateAsync(this ApiFactory api, long orderId) =>
        api.WithDbAsync(async db =>
        {
            var version = await db.Orders.Where(o => o.Id == orderId).Select(o => o.Version).SingleAsync();
            var events = await db.Events.Where(e => e.OrderId == orderId).OrderBy(e => e.Sequence).Select(e => e.Type).ToListAsync();
            var lines = await db.Orders.Where(o => o.Id == orderId).SelectMany(o => o.Lines.Select(l => l.CancelledQuantity)).ToListAsync();
            return new DbState(version, string.Join(",", events), string.Join(",", lines));
        });

    public static Task<int> OrderCountAsync(this ApiFactory api, Guid partnerId) =>
        api.WithDbAsync(db => db.Orders.CountAsync(o => o.PartnerId == partnerId));

    public static Task<int> EventCountAsync(this ApiFactory api, Guid partnerId) =>
        api.WithDbAsync(db => db.Events.CountAsync(e => e.PartnerId == partnerId));
}

public sealed record DbState(int Version, string Events, string CancelledQuantities);
