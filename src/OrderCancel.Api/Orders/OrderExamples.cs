using System.Text.Json.Nodes;
using OrderCancel.Api.Http;

namespace OrderCancel.Api.Orders;

/// <summary>
/// The request examples Swagger UI's "Try it out" sends. They work in sequence on a fresh database: the payment example
/// pays the order the create example makes (its <c>amount</c> is that order's total), and each example that needs an id
/// says where it comes from. A test runs every one of them.
/// </summary>
public static class OrderExamples
{
    /// <summary>The create example's total: 2 × 19.90 − 5.00 + 20 % tax, 12.50 + 20 % tax, 4.90 shipping.</summary>
    public const decimal CreatedOrderTotal = 61.66m;

    public const string ScheduledDate = "2030-06-30";

    public static readonly RequestExample[] Create =
    [
        new("one_time", "A one-time order (starts pending)", JsonNode.Parse("""
            {
              "kind": "one_time",
              "currency": "EUR",
              "time_zone": "Europe/Paris",
              "channel": "web",
              "customer": { "ref": "cus_8842", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace" },
              "lines": [
                { "sku": "SKU-RED-M", "name": "Red T-shirt, M", "quantity": 2, "unit_price": 19.90, "discount": 5.00, "tax_rate": 0.2, "metadata": { "color": "red" } },
                { "sku": "SKU-MUG", "name": "Mug", "quantity": 1, "unit_price": 12.50, "tax_rate": 0.2 }
              ],
              "shipping_cost": 4.90,
              "metadata": { "insurer": "acme", "policy": "P-1029" }
            }
            """)!, "Answers 201 with the order; note its `id` and its lines' `id`s for the other examples. Add a unique `reference` to make a retry safe without an Idempotency-Key."),
        new("recurring", "A monthly subscription (starts active)", JsonNode.Parse("""
            {
              "kind": "recurring",
              "currency": "USD",
              "billing_period": "monthly",
              "customer": { "ref": "cus_1207", "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper" },
              "lines": [ { "sku": "PLAN-PRO", "name": "Pro plan", "quantity": 1, "unit_price": 29.00 } ]
            }
            """)!),
    ];

    public static readonly RequestExample[] Pay =
    [
        new("card", "Pay the create example's order", JsonNode.Parse($$"""
            { "method": "card", "amount": {{CreatedOrderTotal}}, "reference": "pi_3N2x" }
            """)!, "`amount` must equal the order's `amount_due`: 61.66 for the one-time create example."),
    ];

    public static readonly RequestExample[] Cancel =
    [
        new("full", "Cancel the whole order now", JsonNode.Parse("""
            { "reason": "customer_request", "note": "Customer changed their mind." }
            """)!, "Answers 200; the order becomes cancelled and `amount_due` 0."),
        new("partial", "Cancel one unit of one line now", JsonNode.Parse("""
            { "reason": "out_of_stock", "items": [ { "line_id": 1, "quantity": 1 } ] }
            """)!, "Replace `line_id` with one of the order's `lines[].id`. Answers 200; the order keeps its status."),
        new("scheduled", "Cancel the whole order on a later day", JsonNode.Parse($$"""
            { "reason": "customer_request", "effective_date": "{{ScheduledDate}}" }
            """)!, "Answers 202; the order keeps its status and shows `scheduled_cancellation` until that day."),
    ];

    public static readonly RequestExample[] Reactivate =
    [
        new("now", "Reactivate now", JsonNode.Parse("""{ "note": "Customer came back." }""")!, "Answers 200 for a cancelled order."),
        new("scheduled", "Reactivate on a later day", JsonNode.Parse($$"""{ "effective_date": "{{ScheduledDate}}" }""")!, "Answers 202 with `scheduled_reactivation`."),
    ];
}
