using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A revoked key and a changed setting take effect on every instance within a second (docs/guarantees.md, "Across
/// instances"): each is made on one instance right after another instance, a process of its own, served the partner
/// with the old one (so it holds the key in memory), and every request the other instance starts more than a second
/// after the change follows the new one.
/// </summary>
public sealed class ChangesSeenByEveryInstanceTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = new() { ["Database__MigrateOnStartup"] = "false" };

    [Fact]
    public async Task A_key_revoked_on_one_instance_is_refused_by_another_process_within_a_second()
    {
        using var other = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var partner = await database.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        using var otherClient = other.Client(partner.Key);
        await otherClient.GetOrderAsync(order.Id());

        await (await database.AdminClient().DeleteAsync($"/v1/admin/keys/{partner.KeyId}")).ShouldBeAsync(HttpStatusCode.NoContent);

        await WithinASecondAsync(async () => (await otherClient.GetAsync($"/v1/orders/{order.Id()}")).StatusCode == HttpStatusCode.Unauthorized);
        await (await otherClient.GetAsync($"/v1/orders/{order.Id()}")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await partner.Client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task A_cancellation_window_set_on_one_instance_is_applied_by_another_process_within_a_second()
    {
        using var other = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var partner = await database.NewPartnerAsync();
        var orders = new List<long>();
        for (var i = 0; i < 2; i++)
        {
            orders.Add((await partner.Client.CreateOrderAsync()).Id());
        }

        await Sql.ExecuteAsync(database.ConnectionString, "UPDATE orders SET created_at = created_at - interval '2 hours' WHERE id = ANY(@ids)", ("ids", orders.ToArray()));
        using var otherClient = other.Client(partner.Key);
        await (await otherClient.CancelAsync(orders[0], """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);

        await (await PartnerSettingsTests.PatchAsync(partner.Client, """{"cancellation_window":"PT1H"}""")).ShouldBeAsync(HttpStatusCode.OK);

        await WithinASecondAsync(async () =>
        {
            var preview = await otherClient.PostAsync($"/v1/orders/{orders[1]}/cancel/preview", Requests.Json("""{"reason":"customer_request"}"""));
            return !(await preview.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("allowed").GetBoolean();
        });
        await (await otherClient.CancelAsync(orders[1], """{"reason":"customer_request"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "cancellation_window_closed");
    }

    /// <summary>
    /// Asks until <paramref name="applied"/> holds; fails if a request started more than a second after the change had
    /// answered still followed the old value. Measured from each request's start, so a slow machine cannot fail it.
    /// </summary>
    private static async Task WithinASecondAsync(Func<Task<bool>> applied)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        while (true)
        {
            var started = DateTimeOffset.UtcNow;
            if (await applied())
            {
                return;
            }

            Assert.True(started < deadline, "A request started more than a second after the change still followed the old value.");
            await Task.Delay(50);
        }
    }
}
