using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// The service over HTTP in memory, on a real PostgreSQL database of its own that it creates, migrates
/// (through the service's own start-up) and drops. The server comes from ConnectionStrings__Orders,
/// which scripts/test.sh points at a throwaway cluster.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime, IOrdersDatabase
{
    public const string AdminKey = "oc_admin_key_for_tests";

    private readonly string _serverConnectionString;
    private readonly bool _ownsDatabase;

    public ApiFactory()
        : this(null)
    {
    }

    /// <param name="sharedConnectionString">Another instance's database, to run a second service on it.</param>
    private ApiFactory(string? sharedConnectionString)
    {
        _serverConnectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Orders")
            ?? throw new InvalidOperationException(
                "No PostgreSQL configured: run ./scripts/test.sh, or set ConnectionStrings__Orders to a server this test run may create databases on.");
        _ownsDatabase = sharedConnectionString is null;
        ConnectionString = sharedConnectionString ?? new NpgsqlConnectionStringBuilder(_serverConnectionString)
        {
            Database = $"oc_test_{Guid.NewGuid():N}",
            MaxPoolSize = 200,
        }.ConnectionString;
    }

    public string ConnectionString { get; }

    /// <summary>A second service instance on this one's database (it neither creates nor drops it).</summary>
    public ApiFactory SecondInstance() => new(ConnectionString);

    protected virtual string HostEnvironment => "Testing";

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        if (!_ownsDatabase)
        {
            _ = Server;
            return;
        }

        await using (var connection = new NpgsqlConnection(_serverConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{DatabaseName}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        _ = Server; // Starts the service, which applies the migrations.
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (!_ownsDatabase)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_serverConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    public string DatabaseName => new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(HostEnvironment);
        builder.ConfigureAppConfiguration((_, configuration) =>
        {
            var settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Orders"] = ConnectionString,
                ["Admin:ApiKey"] = AdminKey,
                ["Serilog:MinimumLevel:Default"] = "Warning",
                ["Scheduling:PollInterval"] = "01:00:00",
                ["Webhooks:AllowInsecureLoopback"] = "true",
                ["Webhooks:PollInterval"] = "00:00:00.100",
                ["Webhooks:FirstRetryDelay"] = "00:00:00.200",
                ["Webhooks:Lease"] = "00:00:05",
                ["Shutdown:DrainDelay"] = "00:00:00",

                // Every test makes partners of its own, and in memory all come from one (unknown) address: their keys'
                // first lookups would share one bucket of 10 a second. KeyLookupLimitTests runs the real one.
                ["RateLimiting:UnknownKeyPermitsPerSecond"] = "100000",
            };
            foreach (var (key, value) in Settings)
            {
                settings[key] = value;
            }

            configuration.AddInMemoryCollection(settings);
        });
    }

    public HttpClient ClientWithKey(string? key)
    {
        var client = CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    public HttpClient AdminClient() => ClientWithKey(AdminKey);

    /// <summary>A partner of its own for one test, with a client that calls as that partner.</summary>
    public async Task<TestPartner> NewPartnerAsync()
    {
        var response = await AdminClient().PostAsJsonAsync("/v1/admin/partners", new { name = $"partner-{Guid.NewGuid():N}" });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var key = body.GetProperty("api_key");
        return new TestPartner(
            body.GetProperty("id").GetGuid(),
            key.GetProperty("id").GetGuid(),
            key.GetProperty("key").GetString()!,
            ClientWithKey(key.GetProperty("key").GetString()));
    }

    public async Task<T> WithDbAsync<T>(Func<OrdersDbContext, Task<T>> query)
    {
        await using var scope = Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<OrdersDbContext>());
    }
}

public sealed record TestPartner(Guid Id, Guid KeyId, string Key, HttpClient Client);

[CollectionDefinition(Name)]
public sealed class SharedApi : ICollectionFixture<ApiFactory>
{
    public const string Name = "api";
}
