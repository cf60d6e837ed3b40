using System.Text.Json.Nodes;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;

namespace OrderCancel.Api.CancellationJobs;

/// <summary>Swagger UI's examples for a job: a product recall, previewed first, over the orders the order examples create.</summary>
public static class CancellationJobExamples
{
    public static readonly RequestExample[] Create =
    [
        new("recall_dry_run", "Preview a recall: the mugs on every order, nothing changed", JsonNode.Parse("""
            { "filter": { "sku": "SKU-MUG" }, "scope": "matching_lines", "reason": "out_of_stock", "note": "Supplier recall R-2291.", "dry_run": true }
            """)!, "Answers 202 with the queued job; GET its Location until `status` is `completed`, then read `counts` and the results."),
        new("recall", "Run the recall: cancel what remains of SKU-MUG on every order", JsonNode.Parse("""
            { "filter": { "sku": "SKU-MUG" }, "scope": "matching_lines", "reason": "out_of_stock", "note": "Supplier recall R-2291." }
            """)!, "Each order loses only its SKU-MUG lines (the order is cancelled when nothing else remains); paid orders are refused."),
        new("by_ids", "Cancel a list of orders whole", JsonNode.Parse("""
            { "order_ids": [1, 2, 3], "reason": "fraud_suspected" }
            """)!, "Use your own order ids; one that is not yours is reported as refused with order_not_found."),
        new("scheduled", "Cancel every order of one insurer at a later date", JsonNode.Parse($$"""
            { "filter": { "status": "pending", "metadata": { "insurer": "acme" } }, "reason": "customer_request", "effective_date": "{{OrderExamples.ScheduledDate}}" }
            """)!, "Each order gets a scheduled_cancellation, applied by the scheduler on that day like any other."),
    ];
}
