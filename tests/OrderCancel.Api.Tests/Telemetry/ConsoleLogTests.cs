using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What the service process writes to its console: compact JSON when <c>Serilog:Formatter</c> is <c>json</c>, text
/// otherwise; one line per webhook attempt with the ids that find it; never a key, a secret or a card number; and no
/// error on a first start against an empty database.
/// </summary>
public sealed partial class ConsoleLogTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task Json_logs_have_one_line_per_webhook_attempt_with_its_ids_and_never_a_key_a_secret_or_a_card_number()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>
        {
            ["Database__MigrateOnStartup"] = "false",
            ["Serilog__Formatter"] = "json",
            ["Serilog__MinimumLevel__Default"] = "Information",
            ["Webhooks__AllowInsecureLoopback"] = "true",
            ["Webhooks__PollInterval"] = "00:00:00.100",
        });
        var partner = await database.NewPartnerAsync();
        var client = service.Client(partner.Key);
        var webhook = await (await client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{receiver.Url}}","events":["order.cancelled"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        var order = TestOrders.NewOrder();
        order["metadata"] = System.Text.Json.Nodes.JsonNode.Parse("""{"card":"4111 1111 1111 1111"}""");
        var created = await client.CreateOrderAsync(order);
        await (await client.CancelAsync(created.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var delivered = await receiver.WaitForAsync(received => received.Count == 1);
        await Eventually.TrueAsync(() => service.Output().Contains("Webhook attempt", StringComparison.Ordinal), () => "No webhook attempt was logged.");

        var output = service.Output();
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var events = lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var attempt = Assert.Single(events, e => e.GetProperty("@m").GetString()!.StartsWith("Webhook attempt", StringComparison.Ordinal));
        Assert.Equal(1, attempt.GetProperty("Attempt").GetInt32());
        Assert.Equal(delivered[0].Id, attempt.GetProperty("EventId").GetString());
        Assert.Equal(webhook.GetProperty("id").GetString(), attempt.GetProperty("EndpointId").GetString());
        Assert.True(Guid.TryParse(attempt.GetProperty("DeliveryId").GetString(), out _));
        Assert.Equal(200, attempt.GetProperty("StatusCode").GetInt32());
        Assert.True(attempt.GetProperty("DurationMs").GetDouble() >= 0);
        Assert.Equal("succeeded", attempt.GetProperty("Outcome").GetString());
        Assert.Contains(events, e => e.TryGetProperty("@tr", out _) && e.TryGetProperty("RequestMethod", out var method) && method.GetString() == "POST");
        Assert.EndsWith("succeeded", attempt.GetProperty("@m").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(partner.Key, output, StringComparison.Ordinal);
        Assert.DoesNotContain(webhook.GetProperty("secret").GetString()!, output, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiFactory.AdminKey, output, StringComparison.Ordinal);
        Assert.DoesNotContain("4111 1111 1111 1111", output, StringComparison.Ordinal);
        Assert.DoesNotContain(receiver.Url, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_logs_by_default_and_a_first_start_on_an_empty_database_logs_no_error()
    {
        var empty = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Database = $"oc_empty_{Guid.NewGuid():N}" };
        await ExecuteAsync($"CREATE DATABASE \"{empty.Database}\"");
        try
        {
            string output;
            using (var service = await ServiceProcess.StartAsync(empty.ConnectionString, new Dictionary<string, string> { ["Serilog__MinimumLevel__Default"] = "Information" }))
            {
                await (await new HttpClient().GetAsync($"{service.BaseUrl}/v1/orders")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
                await Eventually.TrueAsync(() => service.Output().Contains("HTTP GET /v1/orders", StringComparison.Ordinal), () => "No request line was logged.");
                output = service.Output();
            }

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.True(await Sql.ScalarAsync<long>(empty.ConnectionString, "SELECT count(*) FROM \"__EFMigrationsHistory\"") > 0, "The first start did not migrate.");
            Assert.All(lines.Where(line => line.StartsWith('[')), line => Assert.Matches(TextLine(), line));
            Assert.DoesNotContain(lines, line => line.StartsWith('{'));
            Assert.DoesNotContain(lines, line => line.Contains(" ERR]", StringComparison.Ordinal) || line.Contains(" FTL]", StringComparison.Ordinal));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync($"DROP DATABASE IF EXISTS \"{empty.Database}\" WITH (FORCE)");
        }
    }

    private Task<int> ExecuteAsync(string sql) => Sql.ExecuteAsync(database.ConnectionString, sql);

    [GeneratedRegex(@"^\[\d\d:\d\d:\d\d (VRB|DBG|INF|WRN|ERR|FTL)\] ")]
    private static partial Regex TextLine();
}
