using System.Net;
using Npgsql;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Two instances on a PostgreSQL budget of 48 connections (a role with <c>CONNECTION LIMIT 48</c>: PostgreSQL refuses
/// the 49th with the same 53300 as a full <c>max_connections</c>) under a burst of 400 requests: the default pool keeps
/// them within it, and idle connections are given back afterwards.
/// </summary>
public sealed class ConnectionBudgetTests : IAsyncLifetime
{
    private const int Budget = 48;
    private const string Password = "budget";
    private readonly string _server = Environment.GetEnvironmentVariable("ConnectionStrings__Orders")
        ?? throw new InvalidOperationException("No PostgreSQL configured: run ./scripts/test.sh.");

    private readonly string _name = $"oc_budget_{Guid.NewGuid():N}";

    public async Task InitializeAsync()
    {
        await ExecuteAsync($"CREATE ROLE \"{_name}\" LOGIN PASSWORD '{Password}' CONNECTION LIMIT {Budget}");
        await ExecuteAsync($"CREATE DATABASE \"{_name}\" OWNER \"{_name}\"");
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)");
        await ExecuteAsync($"DROP ROLE IF EXISTS \"{_name}\"");
    }

    [Fact]
    public async Task Two_instances_under_a_burst_of_400_stay_within_48_connections_answer_no_5xx_but_503_and_give_idle_ones_back()
    {
        // Each instance: its requests' pool and background work's (docs/operations.md, "Connection budget").
        Assert.True(2 * (Database.DefaultMaxPoolSize + BackgroundBatches.Workers) <= Budget, "The default pools no longer fit two instances in this budget.");
        var connectionString = new NpgsqlConnectionStringBuilder(_server)
        {
            Database = _name,
            Username = _name,
            Password = Password,
            // Only so that this test sees idle connections closed in seconds; the pool size is the default.
            ConnectionIdleLifetime = 2,
            ConnectionPruningInterval = 1,
        }.ConnectionString;
        var settings = new Dictionary<string, string>
        {
            ["Admin__ApiKey"] = ApiFactory.AdminKey,
            ["RateLimiting__PermitsPerSecond"] = "100000",
        };
        using var first = await ServiceProcess.StartAsync(connectionString, settings);
        using var second = await ServiceProcess.StartAsync(connectionString, new Dictionary<string, string>(settings) { ["Database__MigrateOnStartup"] = "false" });
        var created = await (await first.Client(ApiFactory.AdminKey).PostAsync("/v1/admin/partners", Requests.Json("""{"name":"budget"}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        var key = created.GetProperty("api_key").GetProperty("key").GetString()!;
        HttpClient[] clients = [first.Client(key), second.Client(key)];
        var order = TestOrders.NewOrder().ToJsonString();

        var answers = await Task.WhenAll(Enumerable.Range(0, 400).Select(async i =>
        {
            var client = clients[i % 2];
            using var response = i % 4 < 2
                ? await client.PostAsync("/v1/orders", Requests.Json(order))
                : await client.GetAsync("/v1/orders?limit=5");
            return (Status: (int)response.StatusCode, RetryAfter: response.Headers.RetryAfter is not null);
        }));

        var outputs = first.Output() + second.Output();
        Assert.DoesNotContain("53300", outputs, StringComparison.Ordinal);
        Assert.DoesNotContain("too many", outputs, StringComparison.OrdinalIgnoreCase);
        Assert.All(answers, answer => Assert.True(
            answer.Status is >= 200 and < 300 || (answer.Status == 503 && answer.RetryAfter),
            $"Answered {answer.Status}:\n{outputs}"));
        Assert.True(answers.Count(a => a.Status < 300) >= 390, $"Only {answers.Count(a => a.Status < 300)} of 400 succeeded.");
        await Eventually.TrueAsync(
            async () => await ConnectionsOfRoleAsync() <= 4,
            () => $"Idle connections were not given back: {ConnectionsOfRoleAsync().Result} still open.");
    }

    private Task<long> ConnectionsOfRoleAsync() =>
        Sql.ScalarAsync<long>(_server, "SELECT count(*) FROM pg_stat_activity WHERE usename = @role", ("role", _name));

    private Task<int> ExecuteAsync(string sql) => Sql.ExecuteAsync(_server, sql);
}
