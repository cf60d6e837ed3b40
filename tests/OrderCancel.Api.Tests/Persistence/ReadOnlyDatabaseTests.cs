using System.Net;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A database that answers but refuses writes, as a standby does and as a failover's promoted node does until the old
/// primary is demoted (<c>25006 read_only_sql_transaction</c>): writes are 503 <c>unavailable</c> with <c>Retry-After</c>,
/// never 500, readiness fails, the outage is one warning each way, and a retry with its key after it lands once. Made
/// here with <c>default_transaction_read_only</c> on the test's database, whose sessions are then ended, as a failover
/// ends them.
/// </summary>
public sealed class ReadOnlyDatabaseTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = new() { ["Database__MigrateOnStartup"] = "false" };

    [Fact]
    public async Task While_the_database_refuses_writes_writes_are_503_readiness_fails_and_a_retry_with_its_key_lands_once_afterwards()
    {
        var partner = await database.NewPartnerAsync();
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var client = service.Client(partner.Key);
        var probe = service.Client("");
        var order = (await client.CreateOrderAsync()).Id();

        await SetReadOnlyAsync(true);
        List<(string Key, HttpResponseMessage Answer)> creates = [];
        for (var i = 0; i < 10; i++)
        {
            var key = Guid.NewGuid().ToString();
            creates.Add((key, await client.SendAsync(Create(key))));
        }

        var cancel = await client.PostAsync($"/v1/orders/{order}/cancel", Requests.Json("""{"reason":"customer_request"}"""));
        var read = await client.GetAsync($"/v1/orders/{order}");
        var ready = await probe.GetAsync("/health/ready");

        await SetReadOnlyAsync(false);
        await Eventually.TrueAsync(
            async () => (await probe.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            () => $"Readiness did not come back once the database took writes:\n{service.Output()}");
        foreach (var (key, _) in creates)
        {
            // As a partner would: again with its key while the answer is a 503 (a connection the failover ended may answer one).
            await Eventually.TrueAsync(
                async () => (await client.SendAsync(Create(key))).StatusCode != HttpStatusCode.ServiceUnavailable,
                () => "A create was still 503 after the database took writes again.");
        }

        foreach (var (_, answer) in creates)
        {
            await answer.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.NotNull(answer.Headers.RetryAfter);
        }

        await cancel.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.NotNull(ready.Headers.RetryAfter);
        Assert.Equal("pending", (await read.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("status").GetString()); // Reads need no primary.
        Assert.Equal(1 + creates.Count, await database.OrderCountAsync(partner.Id));

        var lines = service.Output().Split('\n');
        Assert.Single(lines, line => line.Contains("The database cannot be reached", StringComparison.Ordinal));
        Assert.Single(lines, line => line.Contains("The database is reachable again", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, line => line.Contains("Unexpected fault", StringComparison.Ordinal) || line.Contains("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Started_on_a_database_that_refuses_writes_the_service_waits_then_migrates_once_it_takes_them()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(database.ConnectionString);
        var empty = scratch.ConnectionString;
        var name = new NpgsqlConnectionStringBuilder(empty).Database;
        await Sql.ExecuteAsync(database.ConnectionString, $"ALTER DATABASE \"{name}\" SET default_transaction_read_only = on");
        using var service = ServiceProcess.Launch(empty, new Dictionary<string, string>());
        await Eventually.TrueAsync(
            () => Task.FromResult(service.Output().Contains("Start-up waits for a database that takes writes", StringComparison.Ordinal)),
            () => $"The service did not say it waits:\n{service.Output()}");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(service.HasExited, $"The service gave up on a read-only database:\n{service.Output()}");

        await Sql.ExecuteAsync(database.ConnectionString, $"ALTER DATABASE \"{name}\" RESET default_transaction_read_only");
        await service.WaitUntilReadyAsync();
        Assert.Contains("start-up goes on", service.Output(), StringComparison.Ordinal);
        Assert.Equal(
            await Sql.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM \"__EFMigrationsHistory\""),
            await Sql.ScalarAsync<long>(empty, "SELECT count(*) FROM \"__EFMigrationsHistory\""));
    }

    private static HttpRequestMessage Create(string key) => new(HttpMethod.Post, "/v1/orders")
    {
        Content = Requests.Json(NewOrder()),
        Headers = { { "Idempotency-Key", key } },
    };

    /// <summary>Sets the test database read-only or back, and ends its sessions (but this one's) so that the service's next connections see it.</summary>
    private async Task SetReadOnlyAsync(bool readOnly)
    {
        var server = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Database = "postgres" }.ConnectionString;
        await Sql.ExecuteAsync(
            server, readOnly ? $"ALTER DATABASE \"{database.DatabaseName}\" SET default_transaction_read_only = on" : $"ALTER DATABASE \"{database.DatabaseName}\" RESET default_transaction_read_only");
        await Sql.ExecuteAsync(server, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @name AND pid <> pg_backend_pid()", ("name", database.DatabaseName));
        NpgsqlConnection.ClearAllPools();
    }
}
