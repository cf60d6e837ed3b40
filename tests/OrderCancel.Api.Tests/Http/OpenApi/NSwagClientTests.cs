using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.NSwagClient;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A partner's integration with a client NSwag generated from the document at build time, with the options
/// docs/api.md gives (see the test project file): Newtonsoft.Json, optional properties as nullable. What the caller
/// leaves unset must stay out of the body, because the service reads a missing property as "do what the partner's
/// settings say": the partner here releases shipping on partial cancels and lets unpaid orders expire after a day.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class NSwagClientTests(ApiFactory api)
{
    [Fact]
    public async Task An_NSwag_client_creates_reads_cancels_in_part_and_in_full_reactivates_with_no_fields_and_reads_a_refusals_typed_code()
    {
        var served = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        Assert.Equal(OpenApiContractTests.Pretty(served.Root), (await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "openapi.json"))).ReplaceLineEndings("\n"));
        var partner = await api.NewPartnerAsync();
        var wire = new Wire();
        var client = ClientFor(partner.Key, wire);

        var settings = await client.PatchSettingsAsync(null, new SettingsPatch { Unpaid_order_ttl = "P1D", Shipping_on_partial_cancel = ShippingOnPartialCancel.Release });
        Assert.Equal("P1D", settings.Unpaid_order_ttl);
        Assert.Null(settings.Cancellation_window);

        // 0.1 + 0.2 is exactly 0.3 in decimal; as a double it would be 0.30000000000000004, which the service refuses.
        var created = await client.CreateOrderAsync(null, null, new CreateOrderRequest
        {
            Kind = OrderKind.One_time,
            Currency = "EUR",
            Customer = new CustomerRequest { Ref = "cus_nswag", Email = "nswag@example.com", First_name = "N", Last_name = "Swag" },
            Lines =
            [
                new LineRequest { Sku = "SKU-A", Name = "A", Quantity = 3, Unit_price = 0.1m + 0.2m },
                new LineRequest { Sku = "SKU-B", Name = "B", Quantity = 1, Unit_price = 10.00m, Tax_rate = 0.2m },
            ],
            Shipping_cost = 4.90m,
        });
        Assert.Equal(["kind", "currency", "customer", "lines", "shipping_cost"], wire.LastProperties);
        var total = 0.90m + 12.00m + 4.90m;
        Assert.Equal(total, created.Total);
        Assert.Equal(OrderStatus.Pending, created.Status);
        Assert.Null(created.Billing_period);
        Assert.Equal(created.Created_at.AddDays(1), created.Expires_at);
        Assert.Equal(created.Expires_at, await api.WithDbAsync(db => db.Orders.Where(o => o.Id == created.Id).Select(o => o.ExpiresAt).SingleAsync()));

        var read = await client.GetOrderAsync(created.Id);
        Assert.Equal(created.Version, read.Version);
        Assert.Null(read.Payment);

        var lineId = read.Lines.First().Id;
        var partial = await client.CancelOrderAsync(created.Id, null, null, null, new CancelOrderRequest
        {
            Reason = ClientCancellationReason.Out_of_stock,
            Items = [new CancelItemRequest { Line_id = lineId, Quantity = 1 }],
        });
        Assert.Equal($$"""{"reason":"out_of_stock","items":[{"line_id":{{lineId}},"quantity":1}]}""", wire.LastText);
        Assert.Equal(OrderStatus.Pending, partial.Status);
        Assert.Equal(1, partial.Order.Lines.First().Cancelled_quantity);
        // No waive_shipping in the body, so the partner's setting (release) decides.
        Assert.True(partial.Order.Shipping_waived);
        Assert.Equal(total - 0.30m - 4.90m, partial.Order.Total);

        var full = await client.CancelOrderAsync(created.Id, null, null, null, new CancelOrderRequest { Reason = ClientCancellationReason.Customer_request });
        Assert.Equal(OrderStatus.Cancelled, full.Status);
        Assert.Equal(0m, full.Order.Amount_due);
        Assert.Equal([CancellationType.Partial, CancellationType.Full], full.Order.Cancellations.Select(c => c.Type));
        Assert.Equal(CancellationReason.Out_of_stock, full.Order.Cancellations.First().Reason);

        var reactivated = await client.ReactivateOrderAsync(created.Id, null, null, null, new ReactivateOrderRequest());
        Assert.Equal("{}", wire.LastText);
        Assert.Equal(OrderStatus.Pending, reactivated.Status);
        Assert.Equal(total - 0.30m - 4.90m, reactivated.Order.Total);

        var refused = await Assert.ThrowsAsync<ApiException<Problem>>(() => client.ReactivateOrderAsync(created.Id, null, null, null, new ReactivateOrderRequest()));
        Assert.Equal(400, refused.StatusCode);
        Assert.Equal(ProblemCode.Order_not_cancelled, refused.Result.Code);
        Assert.False(string.IsNullOrEmpty(refused.Result.Trace_id));
        var missing = await Assert.ThrowsAsync<ApiException<Problem>>(() => client.GetOrderAsync(long.MaxValue));
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal(ProblemCode.Order_not_found, missing.Result.Code);

        var stored = await api.WithDbAsync(db => db.Orders.AsNoTracking().SingleAsync(o => o.Id == created.Id));
        Assert.Equal(Domain.OrderStatus.Pending, stored.Status);
        Assert.Equal(reactivated.Order.Version, stored.Version);
        Assert.Equal(["order.created", "order.partially_cancelled", "order.cancelled", "order.reactivated"], await EventTypesAsync(created.Id));
    }

    /// <summary>
    /// NSwag serializes an optional body the caller leaves null as the JSON literal <c>null</c> (RicoSuter/NSwag#3839),
    /// which is not an object: 400 <c>malformed_json</c> (SPEC §6), as for any client. docs/api.md says to pass
    /// <c>new ReactivateOrderRequest()</c> instead, which the test above shows sends <c>{}</c>.
    /// </summary>
    [Fact]
    public async Task An_NSwag_client_given_a_null_body_sends_the_JSON_literal_null_which_is_refused_as_malformed_json_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();
        var wire = new Wire();
        var client = ClientFor(partner.Key, wire);
        var created = await client.CreateOrderAsync(null, null, new CreateOrderRequest
        {
            Kind = OrderKind.One_time,
            Currency = "EUR",
            Customer = new CustomerRequest { Ref = "cus_nswag", Email = "nswag@example.com", First_name = "N", Last_name = "Swag" },
            Lines = [new LineRequest { Sku = "SKU-A", Name = "A", Quantity = 1, Unit_price = 5m }],
        });
        var cancelled = await client.CancelOrderAsync(created.Id, null, null, null, new CancelOrderRequest { Reason = ClientCancellationReason.Customer_request });

        var refused = await Assert.ThrowsAsync<ApiException<Problem>>(() => client.ReactivateOrderAsync(created.Id, null, null, null, null));

        Assert.Equal("null", wire.LastText);
        Assert.Equal(400, refused.StatusCode);
        Assert.Equal(ProblemCode.Malformed_json, refused.Result.Code);
        var stored = await api.WithDbAsync(db => db.Orders.AsNoTracking().SingleAsync(o => o.Id == created.Id));
        Assert.Equal(Domain.OrderStatus.Cancelled, stored.Status);
        Assert.Equal(cancelled.Order.Version, stored.Version);
        Assert.Equal(["order.created", "order.cancelled"], await EventTypesAsync(created.Id));
    }

    private OrderCancelClient ClientFor(string key, Wire wire)
    {
        var http = api.CreateDefaultClient(wire);
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return new OrderCancelClient(http);
    }

    private Task<List<string>> EventTypesAsync(long orderId) =>
        api.WithDbAsync(db => db.Events.Where(e => e.OrderId == orderId).OrderBy(e => e.Sequence).Select(e => e.Type).ToListAsync());

    /// <summary>The body of the last request, as the client put it on the wire.</summary>
    private sealed class Wire : DelegatingHandler
    {
        public string LastText { get; private set; } = "";

        public List<string> LastProperties
        {
            get
            {
                using var body = JsonDocument.Parse(LastText);
                return [.. body.RootElement.EnumerateObject().Select(p => p.Name)];
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            LastText = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
