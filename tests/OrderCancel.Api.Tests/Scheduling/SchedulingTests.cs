using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Domain;

namespace OrderCancel.Api.Tests;

/// <summary>The scheduler: exactly once across instances, and on time by the order's clock.</summary>
[Collection(SharedApi.Name)]
public sealed class SchedulingRaceTests(ApiFactory api)
{
    [Fact]
    public async Task Two_instances_racing_over_1000_due_scheduled_cancellations_apply_each_exactly_once()
    {
        var partner = await api.NewPartnerAsync();
        var now = DateTimeOffset.UtcNow;
        var tomorrow = DateOnly.FromDateTime(now.UtcDateTime).AddDays(1);
        await api.WithDbAsync(async db =>
        {
            for (var i = 0; i < 1000; i++)
            {
                var spec = Spec();
                var order = Order.Create(partner.Id, spec, await db.NewLineIdsAsync(spec.Lines.Count, CancellationToken.None), now, "api_key:seed", PartnerPolicy.Default);
                Assert.True(order.Cancel(new CancelRequest(CancellationReason.CustomerRequest, null, tomorrow, [], false), now, "api_key:seed", PartnerPolicy.Default).IsSuccess);
                db.Orders.Add(order);
            }

            return await db.SaveChangesAsync();
        });
        await using var second = api.SecondInstance();
        await second.InitializeAsync();
        var secondClient = second.ClientWithKey(partner.Key);
        var asOf = $$"""{"as_of":"{{tomorrow.AddDays(1):yyyy-MM-dd}}T00:00:00Z"}""";

        var runs = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            (i % 2 == 0 ? partner.Client : secondClient).PostAsync("/v1/test/scheduled-changes/run", Requests.Json(asOf))));

        var applied = 0;
        foreach (var run in runs)
        {
            applied += (await run.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("applied").GetInt32();
        }

        Assert.Equal(1000, applied);
        var perOrder = await api.WithDbAsync(db => db.Events
            .Where(e => e.PartnerId == partner.Id && e.Type == "order.cancelled")
            .GroupBy(e => e.OrderId)
            .Select(g => g.Count())
            .ToListAsync());
        Assert.Equal(1000, perOrder.Count);
        Assert.All(perOrder, count => Assert.Equal(1, count));
        Assert.Equal(0, await api.WithDbAsync(db => db.Orders.CountAsync(o => o.PartnerId == partner.Id && o.Status != OrderStatus.Cancelled)));
    }

    [Fact]
    public async Task A_swept_partial_cancellation_and_a_swept_reactivation_write_the_line_quantities()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order, $$"""{"reason":"out_of_stock","effective_date":"{{Cancellations.Day(2)}}","items":[{"line_id":1,"quantity":1}]}"""))
            .ShouldBeAsync(HttpStatusCode.Accepted);

        await partner.Client.RunScheduledChangesAsync(Cancellations.Day(4));

        Assert.Equal("1,0", (await api.StateAsync(order.Id())).CancelledQuantities);
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal("2,1", (await api.StateAsync(order.Id())).CancelledQuantities);
        await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/reactivate", Requests.Json($$"""{"effective_date":"{{Cancellations.Day(6)}}"}""")))
            .ShouldBeAsync(HttpStatusCode.Accepted);

        await partner.Client.RunScheduledChangesAsync(Cancellations.Day(8));

        var state = await api.StateAsync(order.Id());
        Assert.Equal("1,0", state.CancelledQuantities);
        Assert.EndsWith("order.reactivation_scheduled,order.reactivated", state.Events, StringComparison.Ordinal);
        var lines = (await partner.Client.GetOrderAsync(order.Id())).GetProperty("lines");
        Assert.Equal([1, 0], lines.EnumerateArray().Select(l => l.GetProperty("cancelled_quantity").GetInt32()));
    }

    public static NewOrder Spec() => new(
        OrderKind.OneTime,
        Currency.Of("EUR"),
        "UTC",
        null,
        null,
        "api",
        new Customer("c", "a@b.co", "A", "B", null),
        [new NewLine("A", "Item", 1, 10m, 0m, 0m, "{}")],
        0m,
        "{}");
}

/// <summary>The background worker, driven by a fake clock: nothing before 00:00 of the effective date, then the change.</summary>
public sealed class SchedulingWorkerTests(SchedulingWorkerTests.WorkerApi api) : IClassFixture<SchedulingWorkerTests.WorkerApi>
{
    [Fact]
    public async Task The_worker_applies_a_scheduled_cancellation_at_midnight_in_the_orders_time_zone()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync(TestOrders.NewOrder(timeZone: "Europe/Paris"));
        await (await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel",
            Requests.Json("""{"reason":"customer_request","effective_date":"2030-01-12"}"""))).ShouldBeAsync(HttpStatusCode.Accepted);

        api.Clock.SetUtcNow(new DateTimeOffset(2030, 1, 11, 22, 58, 0, TimeSpan.Zero));
        await api.TickAsync(); // 23:59 in Paris
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());

        await api.TickAsync(); // 00:00 in Paris

        var cancelled = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal("scheduler", cancelled.GetProperty("cancellations")[0].GetProperty("actor").GetString());
    }

    public sealed class WorkerApi : ApiFactory
    {
        public static readonly TimeSpan PollInterval = TimeSpan.FromMinutes(1);

        public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2030, 1, 10, 12, 0, 0, TimeSpan.Zero));

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Scheduling:PollInterval"] = PollInterval.ToString(),
        };

        /// <summary>
        /// Moves the clock on by one poll interval and waits until a sweep as of the new time has finished. The worker is
        /// also woken: a round still running when the clock moves sets its next timer from the moved clock, which then
        /// never fires (seen under load in CI).
        /// </summary>
        public async Task TickAsync()
        {
            var worker = Services.GetServices<IHostedService>().OfType<ScheduledChangeWorker>().Single();
            Clock.Advance(PollInterval);
            worker.Wake();
            var now = Clock.GetUtcNow();
            await Eventually.TrueAsync(() => worker.LastRoundAsOf >= now, () => $"The worker did not sweep as of {now:O} after its tick.");
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
        }
    }
}

/// <summary>SPEC §11: the worker cancels an unpaid order within one poll interval of its <c>expires_at</c>, by the fake clock.</summary>
public sealed class ExpiryWorkerTests(SchedulingWorkerTests.WorkerApi api) : IClassFixture<SchedulingWorkerTests.WorkerApi>
{
    [Fact]
    public async Task The_worker_expires_an_unpaid_order_within_one_poll_interval_of_its_expiry()
    {
        var partner = await api.NewPartnerAsync();
        await (await PartnerSettingsTests.PatchAsync(partner.Client, """{"unpaid_order_ttl":"PT3M"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var order = await partner.Client.CreateOrderAsync();
        var paid = await partner.Client.CreateOrderAsync();
        Assert.Equal(api.Clock.GetUtcNow().AddMinutes(3), order.GetProperty("expires_at").GetDateTimeOffset());

        await api.TickAsync();
        await api.TickAsync();
        await partner.Client.PayAsync(paid);
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(order.Id())).GetProperty("status").GetString());
        await api.TickAsync();

        var expired = await partner.Client.GetOrderAsync(order.Id());
        Assert.Equal("cancelled", expired.GetProperty("status").GetString());
        Assert.Equal("expired", expired.GetProperty("cancellations")[0].GetProperty("reason").GetString());
        Assert.Equal("scheduler", expired.GetProperty("cancellations")[0].GetProperty("actor").GetString());
        Assert.Equal("paid", (await partner.Client.GetOrderAsync(paid.Id())).GetProperty("status").GetString());
    }
}
