using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Generated;
using OrderCancel.Generated.Models;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A partner's first integration, with a client Kiota generated from the document at build time (see the test
/// project file): typed requests, <c>decimal</c> money, and a refusal whose <c>code</c> is a typed enum.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class KiotaClientTests(ApiFactory api)
{
    [Fact]
    public async Task A_Kiota_client_creates_reads_cancels_in_part_and_in_full_reactivates_and_reads_a_refusals_typed_code()
    {
        var served = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        Assert.Equal(OpenApiContractTests.Pretty(served.Root), (await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "openapi.json"))).ReplaceLineEndings("\n"));
        var partner = await api.NewPartnerAsync();
        var client = ClientFor(partner.Key);

        // 0.1 + 0.2 is exactly 0.3 in decimal; as a double it would be 0.30000000000000004, which the service refuses.
        decimal unitPrice = 0.1m + 0.2m;
        var created = await client.V1.Orders.PostAsync(new CreateOrderRequest
        {
            Kind = OrderKind.One_time,
            Currency = "EUR",
            Customer = new CustomerRequest { Ref = "cus_kiota", Email = "kiota@example.com", FirstName = "Ki", LastName = "Ota" },
            Lines =
            [
                new LineRequest { Sku = "SKU-A", Name = "A", Quantity = 3, UnitPrice = unitPrice },
                new LineRequest { Sku = "SKU-B", Name = "B", Quantity = 1, UnitPrice = 10.00m, TaxRate = 0.2m },
            ],
            ShippingCost = 4.90m,
        });
        Assert.NotNull(created);
        decimal? total = created.Total;
        Assert.Equal(0.90m + 12.00m + 4.90m, total);
        Assert.Equal(OrderStatus.Pending, created.Status);
        var order = client.V1.Orders[created.Id!.Value];

        var read = await order.GetAsync();
        Assert.Equal(created.Version, read!.Version);
        Assert.Null(read.Payment);
        Assert.Null(read.BillingPeriod);

        var partial = await order.Cancel.PostAsync(new CancelOrderRequest
        {
            Reason = ClientCancellationReason.Out_of_stock,
            Items = [new CancelItemRequest { LineId = read.Lines![0].Id, Quantity = 1 }],
        });
        Assert.Equal(OrderStatus.Pending, partial!.Status);
        Assert.Equal(1, partial.Order!.Lines![0].CancelledQuantity);
        Assert.Equal(total - 0.30m, partial.Order.Total);

        var full = await order.Cancel.PostAsync(new CancelOrderRequest { Reason = ClientCancellationReason.Customer_request });
        Assert.Equal(OrderStatus.Cancelled, full!.Status);
        Assert.Equal(0m, full.Order!.AmountDue);
        Assert.Equal([CancellationType.Partial, CancellationType.Full], full.Order.Cancellations!.Select(c => c.Type!.Value));

        var reactivated = await order.Reactivate.PostAsync(new ReactivateOrderRequest());
        Assert.Equal(OrderStatus.Pending, reactivated!.Status);
        Assert.Equal(total - 0.30m, reactivated.Order!.Total);

        var refused = await Assert.ThrowsAsync<Problem>(() => order.Reactivate.PostAsync(new ReactivateOrderRequest()));
        Assert.Equal(ProblemCode.Order_not_cancelled, refused.Code);
        Assert.Equal(400, refused.Status);
        Assert.False(string.IsNullOrEmpty(refused.TraceId));
        var missing = await Assert.ThrowsAsync<Problem>(() => client.V1.Orders[long.MaxValue].GetAsync());
        Assert.Equal(ProblemCode.Order_not_found, missing.Code);
    }

    /// <remarks>
    /// Kiota's key and bearer providers refuse plain http, which the in-memory test server speaks, so the key rides on
    /// the HttpClient's default header, as it may in any client.
    /// </remarks>
    private OrderCancelClient ClientFor(string key)
    {
        var http = api.ClientWithKey(key);
        var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http)
        {
            BaseUrl = http.BaseAddress!.ToString().TrimEnd('/'),
        };
        return new OrderCancelClient(adapter);
    }
}
