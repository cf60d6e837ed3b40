using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// SPEC §13: the service works through PgBouncer in transaction mode. Two instances, as processes, reach a database
/// of their own only through a real PgBouncer configured as docs/operations.md shows ("Behind PgBouncer"), which
/// hands each transaction whichever server connection is free: start-up migrates through it, and idempotent creates,
/// conditional cancels and the events feed keep their guarantees. Nothing either logs is an error.
/// </summary>
public sealed class PgBouncerTests(PgBouncerTests.Deployment deployment) : IClassFixture<PgBouncerTests.Deployment>
{
    [Fact]
    public async Task Two_instances_started_at_once_migrate_through_pgbouncer_and_reach_postgresql_only_through_it()
    {
        var migrations = typeof(OrdersDbContext).Assembly.GetTypes().Count(type => type.GetCustomAttribute<MigrationAttribute>() is not null);
        var partner = await deployment.NewPartnerAsync();
        foreach (var client in partner.Clients)
        {
            await client.CreateOrderAsync();
        }

        Assert.Equal(migrations, await Sql.ScalarAsync<long>(deployment.Direct, "SELECT count(*) FROM \"__EFMigrationsHistory\""));
        var pool = Assert.Single(await deployment.Bouncer.ShowAsync("POOLS"), row => row["database"] == deployment.DatabaseName);
        Assert.Equal("transaction", pool["pool_mode"]);
        var stats = Assert.Single(await deployment.Bouncer.ShowAsync("STATS"), row => row["database"] == deployment.DatabaseName);
        Assert.True(long.Parse(stats["total_xact_count"]!, CultureInfo.InvariantCulture) > 0, "PgBouncer counted no transaction of the service.");

        // Every backend on the database (but the test's own) is one of PgBouncer's server connections.
        List<int> backends = [];
        List<int> servers = [];
        await Eventually.TrueAsync(
            async () =>
            {
                backends = await deployment.BackendsAsync();
                servers = [.. (await deployment.Bouncer.ShowAsync("SERVERS"))
                    .Where(row => row["database"] == deployment.DatabaseName)
                    .Select(row => int.Parse(row["remote_pid"]!, CultureInfo.InvariantCulture))];
                return backends.Count > 0 && backends.All(servers.Contains);
            },
            () => $"Backends on the database: {string.Join(", ", backends)}; PgBouncer's server connections: {string.Join(", ", servers)}.");
        deployment.AssertNothingWentWrong();
    }

    /// <summary>
    /// Why the service takes only transaction-scoped locks: through this PgBouncer a session's lock stays on the server
    /// connection it was taken on, which the next transaction, another client's, may get, while the client that took
    /// it goes on elsewhere. (Also shows that the deployment pools by transaction: in session mode this test fails.)
    /// </summary>
    [Fact]
    public async Task A_session_level_lock_taken_through_pgbouncer_is_not_the_sessions_on_its_next_statement()
    {
        var through = new NpgsqlConnectionStringBuilder(deployment.Bouncer.ConnectionString("postgres")) { Pooling = false }.ConnectionString;
        await using var taker = new NpgsqlConnection(through);
        await using var other = new NpgsqlConnection(through);
        await taker.OpenAsync();
        await other.OpenAsync();
        var key = Random.Shared.NextInt64();

        var (lockedOn, locked) = await BackendAndAsync(taker, "SELECT pg_backend_pid(), pg_try_advisory_lock(@key)", key);
        await using var holding = await other.BeginTransactionAsync();
        var (heldBy, _) = await BackendAndAsync(other, "SELECT pg_backend_pid(), true", key);
        var (unlockOn, unlocked) = await BackendAndAsync(taker, "SELECT pg_backend_pid(), pg_advisory_unlock(@key)", key);
        var (_, unlockedByOther) = await BackendAndAsync(other, "SELECT pg_backend_pid(), pg_advisory_unlock(@key)", key);

        Assert.True(locked);
        Assert.False(unlocked, "The lock went with the client: the pool is not in transaction mode.");
        Assert.NotEqual(lockedOn, unlockOn);
        Assert.True(lockedOn == heldBy, "PgBouncer gave the other client's transaction another server connection than the one it used last.");
        Assert.True(unlockedByOther, "The lock did not stay on its server connection.");
        deployment.AssertNothingWentWrong();
    }

    [Fact]
    public async Task An_idempotent_create_through_pgbouncer_replays_and_ten_at_once_with_one_key_make_one_order()
    {
        var partner = await deployment.NewPartnerAsync();
        var body = TestOrders.NewOrder().ToJsonString();

        var first = await (await CreateAsync(partner.Clients[0], body, "once")).ShouldBeAsync(HttpStatusCode.Created);
        var retry = await CreateAsync(partner.Clients[1], body, "once");
        var raced = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => CreateAsync(partner.Clients[i % 2], body, "raced")));
        var afterRace = await CreateAsync(partner.Clients[0], body, "raced");

        Assert.Equal(first.Id(), (await retry.ShouldBeAsync(HttpStatusCode.Created)).Id());
        Assert.Equal("true", Assert.Single(retry.Headers.GetValues("Idempotent-Replayed")));
        var created = new List<long>();
        foreach (var answer in raced)
        {
            if (answer.StatusCode == HttpStatusCode.Conflict)
            {
                await answer.ShouldBeProblemAsync(HttpStatusCode.Conflict, "idempotency_key_in_use");
            }
            else
            {
                created.Add((await answer.ShouldBeAsync(HttpStatusCode.Created)).Id());
            }
        }

        var racedOrder = (await afterRace.ShouldBeAsync(HttpStatusCode.Created)).Id();
        Assert.Equal("true", Assert.Single(afterRace.Headers.GetValues("Idempotent-Replayed")));
        Assert.NotEmpty(created);
        Assert.All(created, id => Assert.Equal(racedOrder, id));
        Assert.Equal(2, await Sql.ScalarAsync<long>(deployment.Direct, "SELECT count(*) FROM orders WHERE partner_id = @partner", ("partner", partner.Id)));
        deployment.AssertNothingWentWrong();
    }

    [Fact]
    public async Task Partial_then_full_cancels_with_if_match_through_pgbouncer_apply_once_each_and_a_stale_version_is_412()
    {
        var partner = await deployment.NewPartnerAsync();
        var order = await partner.Clients[0].CreateOrderAsync();
        var read = await partner.Clients[1].GetAsync($"/v1/orders/{order.Id()}");
        var version = read.Headers.ETag!.Tag;

        var partial = await CancelAsync(partner.Clients[1], order, version, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""");
        var stale = await CancelAsync(partner.Clients[0], order, version, """{"reason":"customer_request"}""");
        var full = await CancelAsync(partner.Clients[0], order, partial.Headers.ETag!.Tag, """{"reason":"customer_request"}""");

        Assert.Equal("pending", (await partial.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order").GetProperty("status").GetString());
        await stale.ShouldBeProblemAsync(HttpStatusCode.PreconditionFailed, "version_mismatch");
        var cancelled = (await full.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order");
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal([2, 1], cancelled.GetProperty("lines").EnumerateArray().Select(line => line.GetProperty("cancelled_quantity").GetInt32()));
        Assert.Equal(["order.created", "order.partially_cancelled", "order.cancelled"], await partner.Clients[1].EventTypesAsync(order.Id()));
        Assert.Equal(3, await Sql.ScalarAsync<long>(deployment.Direct, "SELECT count(*) FROM order_events WHERE order_id = @order", ("order", order.Id())));
        deployment.AssertNothingWentWrong();
    }

    /// <summary>
    /// Writers through both instances, and a few holding a transaction open a random while after writing (so that
    /// events commit out of their order), while a poller follows the feed's cursor through one instance and the other
    /// in turn: it ends up with exactly the table's events, each once. An event skipped never comes back, so the test
    /// then fails on its deadline.
    /// </summary>
    [Fact]
    public async Task A_poller_following_the_feed_through_pgbouncer_while_writers_commit_sees_every_event_exactly_once()
    {
        var partner = await deployment.NewPartnerAsync();
        using var writing = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var serviceWriters = Enumerable.Range(0, 4).Select(writer => Task.Run(async () =>
        {
            var client = partner.Clients[writer % partner.Clients.Length];
            do
            {
                var order = await client.CreateOrderAsync();
                await (await client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
            }
            while (!writing.IsCancellationRequested);
        }));
        var slowWriters = OutOfOrderEvents.WriteUntil(deployment.Direct, partner.Id, 3, writing.Token);
        var writers = Task.WhenAll([.. serviceWriters, .. slowWriters]);

        var pages = 0;
        var poller = new FeedPoller(path => partner.Clients[pages++ % partner.Clients.Length].GetAsync(path));
        var stored = await poller.FollowAsync(writers, () => deployment.EventIdsAsync(partner.Id));
        var seen = poller.Seen;
        Assert.True(stored.Count > 40, $"The writers wrote only {stored.Count} events.");
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(stored.Order(), seen.Order());
        deployment.AssertNothingWentWrong();
    }

    private static async Task<HttpResponseMessage> CreateAsync(HttpClient client, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = Requests.Json(body) };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> CancelAsync(HttpClient client, JsonElement order, string version, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json(order.WithLineIds(body)) };
        request.Headers.TryAddWithoutValidation("If-Match", version);
        return await client.SendAsync(request);
    }

    private static async Task<(int Backend, bool Value)> BackendAndAsync(NpgsqlConnection connection, string sql, long key)
    {
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new("key", key) } };
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt32(0), reader.GetBoolean(1));
    }

    /// <summary>
    /// A PgBouncer as docs/operations.md configures it (but for where it listens and how clients log in), in front of
    /// a database of its own, and two instances of the service whose connection string names only PgBouncer, started
    /// at once on the empty database.
    /// </summary>
    public sealed class Deployment : IAsyncLifetime
    {
        private const int Instances = 2;

        /// <summary>The application name of the test's own connections, which go to PostgreSQL directly.</summary>
        private const string DirectApplication = "PgBouncerTests direct";

        private readonly string _server = Environment.GetEnvironmentVariable("ConnectionStrings__Orders")
            ?? throw new InvalidOperationException("No PostgreSQL configured: run ./scripts/test.sh.");

        public string DatabaseName { get; } = $"oc_pgbouncer_{Guid.NewGuid():N}";

        public PgBouncer Bouncer { get; private set; } = null!;

        public IReadOnlyList<ServiceProcess> Services { get; private set; } = [];

        /// <summary>The database, directly: for what the test reads and writes beside the service.</summary>
        public string Direct => new NpgsqlConnectionStringBuilder(_server) { Database = DatabaseName, ApplicationName = DirectApplication }.ConnectionString;

        public async Task InitializeAsync()
        {
            await Sql.ExecuteAsync(_server, $"CREATE DATABASE \"{DatabaseName}\"");
            Bouncer = await PgBouncer.StartAsync(_server, DocumentedSettings());
            var settings = new Dictionary<string, string>
            {
                ["Admin__ApiKey"] = ApiFactory.AdminKey,
                ["RateLimiting__PermitsPerSecond"] = "100000",
                // As docs/operations.md says for Debian's PgBouncer (1.18), which keeps no prepared statement per client.
                ["Database__PrepareStatements"] = "false",
            };
            Services = [.. Enumerable.Range(0, Instances).Select(_ => ServiceProcess.Launch(Bouncer.ConnectionString(DatabaseName), settings))];
            await Task.WhenAll(Services.Select(service => service.WaitUntilReadyAsync()));
        }

        public async Task DisposeAsync()
        {
            foreach (var service in Services)
            {
                service.Dispose();
            }

            Bouncer?.Dispose();
            NpgsqlConnection.ClearAllPools();
            await Sql.ExecuteAsync(_server, $"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)");
        }

        /// <summary>A partner of its own, with a client on each instance.</summary>
        public async Task<(Guid Id, HttpClient[] Clients)> NewPartnerAsync()
        {
            using var admin = Services[0].Client(ApiFactory.AdminKey);
            var made = await (await admin.PostAsync("/v1/admin/partners", Requests.Json($$"""{"name":"pgbouncer-{{Guid.NewGuid():N}}"}""")))
                .ShouldBeAsync(HttpStatusCode.Created);
            var key = made.GetProperty("api_key").GetProperty("key").GetString()!;
            return (made.GetProperty("id").GetGuid(), [.. Services.Select(service => service.Client(key))]);
        }

        /// <summary>The backends connected to the database, but the test's own.</summary>
        public async Task<List<int>> BackendsAsync()
        {
            await using var connection = new NpgsqlConnection(Direct);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> @direct",
                connection)
            { Parameters = { new("direct", DirectApplication) } };
            await using var reader = await command.ExecuteReaderAsync();
            var pids = new List<int>();
            while (await reader.ReadAsync())
            {
                pids.Add(reader.GetInt32(0));
            }

            return pids;
        }

        public async Task<List<Guid>> EventIdsAsync(Guid partner)
        {
            await using var connection = new NpgsqlConnection(Direct);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM order_events WHERE partner_id = @partner", connection) { Parameters = { new("partner", partner) } };
            await using var reader = await command.ExecuteReaderAsync();
            var ids = new List<Guid>();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
            }

            return ids;
        }

        /// <summary>No instance has logged an error or a stack, and PgBouncer no warning or error.</summary>
        public void AssertNothingWentWrong()
        {
            foreach (var service in Services)
            {
                var output = service.Output();
                Assert.False(
                    output.Split('\n').Any(line => line.Contains(" ERR]", StringComparison.Ordinal) || line.Contains(" FTL]", StringComparison.Ordinal) || line.Contains("   at ", StringComparison.Ordinal)),
                    $"An instance logged an error:\n{output}");
            }

            var log = Bouncer.Log();
            Assert.False(
                log.Split('\n').Any(line => line.Contains(" WARNING ", StringComparison.Ordinal) || line.Contains(" ERROR ", StringComparison.Ordinal) || line.Contains(" FATAL ", StringComparison.Ordinal)),
                $"PgBouncer logged a warning or an error:\n{log}");
        }

        /// <summary>The <c>[pgbouncer]</c> section of the ini block under "Behind PgBouncer" in docs/operations.md.</summary>
        private static Dictionary<string, string> DocumentedSettings()
        {
            var lines = File.ReadAllLines(Path.Combine(RepositoryRoot.Path, "docs", "operations.md"));
            var heading = Array.IndexOf(lines, "## Behind PgBouncer");
            Assert.True(heading >= 0, "docs/operations.md has no section \"Behind PgBouncer\".");
            var fence = Array.FindIndex(lines, heading, line => line == "```ini");
            Assert.True(fence >= 0, "docs/operations.md shows no ```ini block under \"Behind PgBouncer\".");
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            var section = "";
            foreach (var line in lines.Skip(fence + 1).TakeWhile(line => line != "```").Select(line => line.Trim()))
            {
                if (line.Length == 0 || line.StartsWith(';') || line.StartsWith('#'))
                {
                    continue;
                }

                if (line.StartsWith('['))
                {
                    section = line;
                    continue;
                }

                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (section == "[pgbouncer]" && equals > 0)
                {
                    settings[line[..equals].Trim()] = line[(equals + 1)..].Trim();
                }
            }

            Assert.Equal("transaction", settings.GetValueOrDefault("pool_mode"));
            return settings;
        }
    }
}
