using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Domain;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Orders are read and saved by hand-written SQL on the hot paths (GET, mutations, the scheduler) and through EF Core
/// elsewhere (lists, creation). Both sides must read every column the other writes, the JSON ones above all.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class OrderStorageTests(ApiFactory api)
{
    [Fact]
    public async Task Orders_changed_by_every_kind_of_mutation_read_the_same_through_the_list_as_through_get()
    {
        var partner = await api.NewPartnerAsync();
        var client = partner.Client;
        var partial = await client.CreateOrderAsync(NewOrder(lines: [Line("A", 3, 10m, discount: 3m, taxRate: 0.2m), Line("B", 1, 5m)]));
        await (await client.CancelAsync(partial, """
            {"reason":"customer_request","note":"one fewer","items":[{"line_id":1,"quantity":1,"reason":"out_of_stock"}],"waive_shipping":true}
            """)).ShouldBeAsync(HttpStatusCode.OK);
        await (await client.CancelAsync(partial, $$"""
            {"reason":"duplicate_order","note":"later","effective_date":"{{Cancellations.Day(9)}}","items":[{"line_id":2,"quantity":1}]}
            """)).ShouldBeAsync(HttpStatusCode.Accepted);
        var paid = await client.PayAsync(await client.CreateOrderAsync());
        var reactivating = await client.CreateOrderAsync(NewOrder(kind: "recurring", timeZone: "America/New_York"));
        await (await client.CancelAsync(reactivating.Id(), """{"reason":"payment_declined"}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await client.PostAsync($"/v1/orders/{reactivating.Id()}/reactivate", Requests.Json($$"""{"effective_date":"{{Cancellations.Day(5)}}","note":"back"}""")))
            .ShouldBeAsync(HttpStatusCode.Accepted);

        var listed = await (await client.GetAsync("/v1/orders?limit=10")).ShouldBeAsync(HttpStatusCode.OK);

        var orders = listed.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(3, orders.Count);
        foreach (var order in orders)
        {
            var read = await client.GetOrderAsync(order.Id());
            Assert.Equal(order.GetRawText(), read.GetRawText());
        }

        var history = (await client.GetOrderAsync(partial.Id())).GetProperty("cancellations")[0];
        Assert.Equal("out_of_stock", history.GetProperty("items")[0].GetProperty("reason").GetString());
        Assert.Equal("card", paid.GetProperty("payment").GetProperty("method").GetString());
    }

    [Fact]
    public async Task Expiry_written_by_the_hand_written_saves_reads_the_same_through_ef_core()
    {
        var partner = await api.NewPartnerAsync();
        var client = partner.Client;
        await (await PartnerSettingsTests.PatchAsync(client, """{"unpaid_order_ttl":"PT10M"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var partial = await client.CreateOrderAsync();
        await (await client.CancelAsync(partial, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);
        await client.PayAsync(await client.CreateOrderAsync());
        var soon = NewOrder();
        soon["expires_at"] = DateTimeOffset.UtcNow.AddMinutes(2).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        var expiring = await client.CreateOrderAsync(soon);
        await client.RunAsOfAsync(expiring.GetProperty("expires_at").GetDateTimeOffset());

        var listed = await (await client.GetAsync("/v1/orders?limit=10")).ShouldBeAsync(HttpStatusCode.OK);

        var orders = listed.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(3, orders.Count);
        foreach (var order in orders)
        {
            Assert.Equal(order.GetRawText(), (await client.GetOrderAsync(order.Id())).GetRawText());
        }

        Assert.Equal(
            [partial.GetProperty("expires_at").GetDateTimeOffset(), null, null],
            orders.OrderBy(o => o.Id()).Select(o => o.GetProperty("expires_at").ValueKind == System.Text.Json.JsonValueKind.Null ? (DateTimeOffset?)null : o.GetProperty("expires_at").GetDateTimeOffset()));
        Assert.Equal("expired", orders.Single(o => o.Id() == expiring.Id()).GetProperty("cancellations")[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_history_written_by_ef_core_is_read_and_extended_by_the_mutations()
    {
        var partner = await api.NewPartnerAsync();
        var created = await partner.Client.CreateOrderAsync();
        await api.WithDbAsync(async db =>
        {
            var order = await db.Orders.SingleAsync(o => o.Id == created.Id());
            var request = new CancelRequest(CancellationReason.OutOfStock, "by EF", null, [new CancelItem(order.Lines[0].Id, 1)], WaiveShipping: false);
            Assert.True(order.Cancel(request, DateTimeOffset.UtcNow, "test", PartnerPolicy.Default).IsSuccess);
            return await db.SaveChangesAsync();
        });

        await (await partner.Client.CancelAsync(created, """{"reason":"duplicate_order","items":[{"line_id":2,"quantity":1}]}"""))
            .ShouldBeAsync(HttpStatusCode.OK);

        var read = await partner.Client.GetOrderAsync(created.Id());
        var cancellations = read.GetProperty("cancellations").EnumerateArray().ToList();
        Assert.Equal(["by EF", null], cancellations.Select(c => c.GetProperty("note").GetString()));
        Assert.Equal(["out_of_stock", "duplicate_order"], cancellations.Select(c => c.GetProperty("reason").GetString()));
        Assert.Equal([1, 1], read.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("cancelled_quantity").GetInt32()));
        var listed = await (await partner.Client.GetAsync("/v1/orders")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(read.GetRawText(), listed.GetProperty("data")[0].GetRawText());
        Assert.Equal(3, read.GetProperty("version").GetInt32());
    }

    /// <summary>
    /// A document past PostgreSQL's ~2 KB row threshold is compressed as it is written, on every change: with lz4, not
    /// the default pglz, which cost three times the CPU (bench/HISTORY.md).
    /// </summary>
    [Fact]
    public async Task Events_and_idempotent_answers_too_big_to_store_plainly_are_compressed_with_lz4()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(NewOrder(lines: [.. Enumerable.Range(1, 12).Select(n => Line($"SKU-{n}", 2, 10m + n))]));
        var key = Guid.NewGuid().ToString();
        using var cancel = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel")
        {
            Content = Requests.Json("""{"reason":"customer_request"}"""),
            Headers = { { "Idempotency-Key", key } },
        };
        await (await partner.Client.SendAsync(cancel)).ShouldBeAsync(HttpStatusCode.OK);

        await using var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            """
            SELECT octet_length(data::text), pg_column_compression(data) FROM order_events WHERE order_id = $1
            UNION ALL
            SELECT octet_length(body), pg_column_compression(body) FROM idempotency_keys WHERE key = $2
            """,
            connection)
        { Parameters = { new() { Value = order.Id() }, new() { Value = key } } };
        List<(int Length, string? Compression)> stored = [];
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add((reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
        }

        Assert.Equal(3, stored.Count);
        Assert.All(stored, document => Assert.True(document.Length > 2500, $"A document of {document.Length} bytes is too small to test this."));
        Assert.All(stored, document => Assert.Equal("lz4", document.Compression));
    }
}
