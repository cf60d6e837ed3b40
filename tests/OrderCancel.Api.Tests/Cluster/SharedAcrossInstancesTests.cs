using System.Net;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What one instance writes, every other reads, and what any instance may claim, one of them does once (docs/guarantees.md,
/// "Across instances"): the Data Protection key ring that seals webhook secrets and cursors lives in the database, so a
/// secret or a cursor sealed by one instance opens on another, even when both started at once on an empty database
/// (each could have made a key ring of its own); and a bulk job's orders and their webhooks, claimed by two instances at
/// once, are each cancelled once and delivered once.
/// </summary>
public sealed class SharedAcrossInstancesTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int JobOrders = 300;

    private static readonly Dictionary<string, string> Webhooks = new()
    {
        ["Webhooks__AllowInsecureLoopback"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.100",
        ["CancellationJobs__PollInterval"] = "00:00:00.100",
    };

    [Fact]
    public async Task Two_instances_started_at_once_on_an_empty_database_open_each_others_webhook_secrets_and_cursors()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(database.ConnectionString);
        var settings = new Dictionary<string, string>(Webhooks) { ["Admin__ApiKey"] = ApiFactory.AdminKey };
        var instances = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => ServiceProcess.StartAsync(scratch.ConnectionString, settings)));
        try
        {
            var made = await (await instances[0].Client(ApiFactory.AdminKey).PostAsync("/v1/admin/partners", Requests.Json("""{"name":"shared-key-ring"}""")))
                .ShouldBeAsync(HttpStatusCode.Created);
            var key = made.GetProperty("api_key").GetProperty("key").GetString()!;
            var clients = instances.Select(i => i.Client(key)).ToArray();

            // A cursor each instance sealed, opened on the other.
            await clients[0].CreateOrderAsync();
            await clients[1].CreateOrderAsync();
            for (var i = 0; i < 2; i++)
            {
                var page = await (await clients[i].GetAsync("/v1/orders?limit=1")).ShouldBeAsync(HttpStatusCode.OK);
                var cursor = page.GetProperty("next_cursor").GetString();
                await (await clients[1 - i].GetAsync($"/v1/orders?limit=1&cursor={cursor}")).ShouldBeAsync(HttpStatusCode.OK);
            }

            // A webhook secret each instance sealed, read by the other to sign: each registers an endpoint, then stops
            // delivering (killed), and the other one delivers to both.
            await using var receiver = await WebhookReceiver.StartAsync();
            var secrets = new List<string>();
            foreach (var client in clients)
            {
                var created = await (await client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{receiver.Url}}","events":["order.cancelled"]}""")))
                    .ShouldBeAsync(HttpStatusCode.Created);
                secrets.Add(created.GetProperty("secret").GetString()!);
            }

            instances[0].Kill();
            var order = await clients[1].CreateOrderAsync();
            await (await clients[1].CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
            var received = await receiver.WaitForAsync(r => r.Count >= 2);
            Assert.All(secrets, secret => Assert.Single(received, webhook => WebhookTests.Verifies(webhook, secret)));
            Assert.DoesNotContain("Unexpected fault", instances[1].Output(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_job_run_by_two_instances_cancels_each_order_once_and_each_webhook_is_delivered_once()
    {
        var partner = await database.NewPartnerAsync();
        await using var receiver = await WebhookReceiver.StartAsync(answer: (_, _) => new WebhookReceiver.Answer(HttpStatusCode.OK, Delay: TimeSpan.FromMilliseconds(20)));
        var (_, secret) = await WebhookTests.RegisterAsync(partner, receiver.Url, "order.cancelled");
        var template = (await partner.Client.CreateOrderAsync()).Id();
        await database.CopyOrderAsync(template, JobOrders - 1);
        var instances = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>(Webhooks) { ["Database__MigrateOnStartup"] = "false" })));
        try
        {
            var job = await instances[0].Client(partner.Key).RunJobAsync("""{"filter":{"status":"pending"},"reason":"customer_request"}""");
            Assert.Equal(JobOrders, job.GetProperty("counts").GetProperty("cancelled").GetInt32());

            var received = await receiver.WaitForAsync(r => r.Select(w => w.Id).Distinct().Count() >= JobOrders);
            await Task.Delay(TimeSpan.FromSeconds(1)); // Time for a second copy of any delivery to arrive.
            received = await receiver.WaitForAsync(_ => true);
            Assert.Equal(JobOrders, received.Count);
            Assert.Equal(JobOrders, received.Select(w => w.Id).Distinct().Count());
            Assert.All(received, webhook => Assert.True(WebhookTests.Verifies(webhook, secret), "A delivery's signature does not verify."));

            var cancelledEvents = await database.WithDbAsync(db => db.Events.Where(e => e.PartnerId == partner.Id && e.Type == "order.cancelled")
                .GroupBy(e => e.OrderId).Select(g => g.Count()).ToListAsync());
            Assert.Equal(JobOrders, cancelledEvents.Count);
            Assert.All(cancelledEvents, count => Assert.Equal(1, count));

            // Both instances did some of the work: otherwise this shows nothing about instances sharing it.
            foreach (var instance in instances)
            {
                var scrape = await Scrape.ReadAsync(instance.BaseUrl);
                Assert.True(scrape.Sum("ordercancel_webhook_attempts_total", ("outcome", "succeeded")) > 0, $"An instance delivered nothing:\n{scrape.Text}");
            }
        }
        finally
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }
    }
}
