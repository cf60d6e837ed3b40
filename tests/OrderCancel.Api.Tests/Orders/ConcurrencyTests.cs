using System.Net;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §8: concurrent mutations of one order serialize; no lost update, no broken invariant.</summary>
[Collection(SharedApi.Name)]
public sealed class ConcurrencyTests(ApiFactory api)
{
    [Fact]
    public async Task Fifty_simultaneous_one_unit_cancels_of_a_line_of_twenty_let_exactly_twenty_through()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(NewOrder(lines: [Line("A", 20, 1m), Line("B", 1, 1m)]));
        using var start = new ManualResetEventSlim();

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await partner.Client.CancelAsync(order, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""");
        })).Append(Task.Run(() =>
        {
            start.Set();
            return (HttpResponseMessage)null!;
        })));

        var answered = responses.Where(r => r is not null).ToList();
        Assert.Equal(20, answered.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = answered.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Equal(30, refused.Count);
        foreach (var response in refused)
        {
            await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "quantity_exceeds_remaining");
        }

        var final = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal(20, final.GetProperty("lines")[0].GetProperty("cancelled_quantity").GetInt32());
        Assert.Equal("pending", final.GetProperty("status").GetString());
        Assert.Equal(20, final.GetProperty("cancellations").GetArrayLength());
        Assert.Equal(21, final.GetProperty("version").GetInt32());
        var events = await api.WithDbAsync(db => db.Events.CountAsync(e => e.OrderId == order.Id() && e.Type == "order.partially_cancelled"));
        Assert.Equal(20, events);
    }

    [Fact]
    public async Task Cancel_racing_pay_on_a_pending_order_lets_exactly_one_win()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        using var start = new ManualResetEventSlim();

        var cancel = Task.Run(async () =>
        {
            start.Wait();
            return await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""");
        });
        var pay = Task.Run(async () =>
        {
            start.Wait();
            return await partner.Client.PostAsync($"/v1/orders/{order.Id()}/payments", Requests.Json("""{"method":"card","amount":30.40}"""));
        });
        start.Set();
        var (cancelled, paid) = (await cancel, await pay);

        var final = await partner.Client.GetOrderAsync(order.Id());
        var events = await partner.Client.EventTypesAsync(order.Id());
        if (cancelled.StatusCode == HttpStatusCode.OK)
        {
            await paid.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_not_payable");
            Assert.Equal("cancelled", final.GetProperty("status").GetString());
            Assert.Equal(["order.created", "order.cancelled"], events);
        }
        else
        {
            await cancelled.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_paid");
            await paid.ShouldBeAsync(HttpStatusCode.OK);
            Assert.Equal("paid", final.GetProperty("status").GetString());
            Assert.Equal(["order.created", "order.paid"], events);
        }

        Assert.Equal(2, final.GetProperty("version").GetInt32());
    }
}
