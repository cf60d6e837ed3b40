using Npgsql;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>An empty database on the test server (nothing migrated, no key ring), dropped when disposed.</summary>
public sealed class ScratchDatabase : IAsyncDisposable
{
    private readonly string _serverConnectionString;

    private ScratchDatabase(string serverConnectionString, string connectionString)
    {
        _serverConnectionString = serverConnectionString;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public static async Task<ScratchDatabase> CreateAsync(string serverConnectionString)
    {
        var scratch = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = $"oc_scratch_{Guid.NewGuid():N}" };
        await Sql.ExecuteAsync(serverConnectionString, $"CREATE DATABASE \"{scratch.Database}\"");
        return new ScratchDatabase(serverConnectionString, scratch.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Sql.ExecuteAsync(_serverConnectionString,
            $"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(ConnectionString).Database}\" WITH (FORCE)");
    }
}
