using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What is kept for how long: finished webhook deliveries go after their retention, pending ones never. On a service
/// whose dispatcher stays idle, so no attempt rewrites the statuses the test sets.
/// </summary>
public sealed class RetentionTests(DatabaseOnly api) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task Succeeded_deliveries_go_after_30_days_failed_ones_after_90_and_pending_ones_stay()
    {
        var partner = await api.NewPartnerAsync();
        var webhook = await (await partner.Client.PostAsync("/v1/webhooks", Requests.Json("""{"url":"http://127.0.0.1:1/closed","events":["order.created"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        var endpointId = webhook.GetProperty("id").GetGuid();
        for (var i = 0; i < 6; i++)
        {
            await partner.Client.CreateOrderAsync();
        }

        // Six deliveries of this endpoint, given the ages and statuses to test (oldest first).
        var ids = await api.WithDbAsync(db => db.WebhookDeliveries.Where(d => d.EndpointId == endpointId).OrderBy(d => d.CreatedAt).Select(d => d.Id).ToListAsync());
        Assert.Equal(6, ids.Count);
        (DeliveryStatus Status, int DaysOld)[] rows =
        [
            (DeliveryStatus.Succeeded, 31), (DeliveryStatus.Succeeded, 29), (DeliveryStatus.Failed, 91),
            (DeliveryStatus.Failed, 89), (DeliveryStatus.Pending, 400), (DeliveryStatus.Succeeded, 0),
        ];
        for (var i = 0; i < rows.Length; i++)
        {
            Assert.Equal(1, await Sql.ExecuteAsync(
                api.ConnectionString,
                "UPDATE webhook_deliveries SET status = @status, created_at = now() - make_interval(days => @days), next_attempt_at = NULL WHERE id = @id",
                ("status", rows[i].Status.ToString().ToLowerInvariant()),
                ("days", rows[i].DaysOld),
                ("id", ids[i])));
        }

        var purged = await api.Services.GetRequiredService<RetentionPurge>().PurgeOnceAsync(CancellationToken.None);

        Assert.True(purged.SucceededDeliveries >= 1 && purged.FailedDeliveries >= 1);
        var left = await api.WithDbAsync(db => db.WebhookDeliveries.Where(d => d.EndpointId == endpointId).Select(d => d.Id).ToListAsync());
        Assert.Equal(new[] { ids[1], ids[3], ids[4], ids[5] }.Order(), left.Order());
    }
}
