using System.Net;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The service process is killed after committing a cancellation and while delivering it; after a restart
/// the event reaches the receiver, which sees one webhook-id and so processes it exactly once.
/// </summary>
public sealed class WebhookCrashTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Webhooks__AllowInsecureLoopback"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.100",
        ["Webhooks__Lease"] = "00:00:02",
        ["Database__MigrateOnStartup"] = "false",
    };

    [Fact]
    public async Task A_cancellation_committed_before_a_crash_is_delivered_after_restart_under_one_webhook_id()
    {
        var firstAttemptArrived = new TaskCompletionSource();
        var holdFirstAttempt = new TaskCompletionSource();
        await using var receiver = await WebhookReceiver.StartAsync((_, attempt) =>
        {
            if (attempt == 1)
            {
                firstAttemptArrived.TrySetResult();
                return new WebhookReceiver.Answer(HttpStatusCode.OK, Hang: holdFirstAttempt);
            }

            return new WebhookReceiver.Answer(HttpStatusCode.OK);
        });
        var partner = await database.NewPartnerAsync();
        Guid eventId;
        using (var first = await ServiceProcess.StartAsync(database.ConnectionString, Settings))
        {
            var client = first.Client(partner.Key);
            await (await client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{receiver.Url}}","events":["order.cancelled"]}"""))).ShouldBeAsync(HttpStatusCode.Created);
            var order = await client.CreateOrderAsync();
            var cancelled = await (await client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
            eventId = cancelled.GetProperty("event_id").GetGuid();

            await firstAttemptArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
            first.Kill(); // The receiver has the request; the service dies before it hears back.
        }

        holdFirstAttempt.SetResult();
        var afterCrash = await DeliveryAsync(eventId);
        Assert.Equal(DeliveryStatus.Pending, afterCrash.Status);
        Assert.Equal(0, afterCrash.Attempts);

        using var second = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var received = await receiver.WaitForAsync(r => r.Count >= 2);
        await Eventually.TrueAsync(
            async () => (await DeliveryAsync(eventId)).Status == DeliveryStatus.Succeeded,
            () => "The restarted service did not record the delivery.");

        Assert.Equal([eventId.ToString()], received.Select(r => r.Id).Distinct());
        Assert.Single(received.Select(r => r.Body).Distinct());
        Assert.Equal(1, await database.WithDbAsync(db => db.WebhookDeliveries.CountAsync(d => d.EventId == eventId)));
    }

    private Task<WebhookDelivery> DeliveryAsync(Guid eventId) =>
        database.WithDbAsync(db => db.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.EventId == eventId));
}
