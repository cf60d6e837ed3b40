using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What a newcomer meets in <c>scripts/run.sh</c>: a busy port is named before a minute of build, and <c>stop</c> stops
/// the PostgreSQL it started wherever its data is, without being told the folder again; <c>reset</c> empties the local
/// database (what a database made by an older build needs). The scripts run from a copy of
/// <c>scripts/</c> in a folder of the test's own, so its bookkeeping (<c>.data/</c>) never touches the checkout's.
/// </summary>
public sealed class RunScriptTests : IDisposable
{
    private readonly string _checkout = Path.Combine(Path.GetTempPath(), $"oc-run-sh-{Guid.NewGuid():N}");
    private readonly string _data = Path.Combine(Path.GetTempPath(), $"oc-run-sh-data-{Guid.NewGuid():N}");

    public RunScriptTests()
    {
        // Created readable by everyone (the default mode): as root the scripts run PostgreSQL's tools as the postgres user, from here.
        Directory.CreateDirectory(Path.Combine(_checkout, "scripts", "lib"));
        File.Copy(Path.Combine(RepositoryRoot.Path, "scripts", "run.sh"), Path.Combine(_checkout, "scripts", "run.sh"));
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "scripts", "lib")))
        {
            File.Copy(file, Path.Combine(_checkout, "scripts", "lib", Path.GetFileName(file)));
        }
    }

    [Fact]
    public async Task Stop_stops_the_PostgreSQL_started_in_another_data_folder_without_naming_it_again()
    {
        var port = FreePort();

        var started = await RunAsync(["db"], ("ORDERCANCEL_PGDATA", _data), ("ORDERCANCEL_DB_PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.True(started.ExitCode == 0, started.Output);
        await using (var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Database=ordercancel;Username=postgres;Pooling=false"))
        {
            await connection.OpenAsync();
            await using var select = new NpgsqlCommand("SELECT 1", connection);
            Assert.Equal(1, await select.ExecuteScalarAsync());
        }

        var stopped = await RunAsync(["stop"]);

        Assert.True(stopped.ExitCode == 0, stopped.Output);
        Assert.Contains($"Stopped the local PostgreSQL on port {port} (data kept in {_data}).", stopped.Output, StringComparison.Ordinal);
        Assert.False(Listening(port), $"PostgreSQL still listens on {port}:\n{stopped.Output}");
        Assert.True(File.Exists(Path.Combine(_data, "PG_VERSION")), "The data folder is gone.");
        Assert.False(File.Exists(Path.Combine(_checkout, ".data", "started-postgres")), "run.sh still lists what it stopped.");
        Assert.Contains("No local PostgreSQL to stop.", (await RunAsync(["stop"])).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reset_drops_the_local_database_and_creates_it_empty_and_leaves_a_database_of_your_own_alone()
    {
        var port = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var connectionString = $"Host=127.0.0.1;Port={port};Database=ordercancel;Username=postgres;Pooling=false";
        Assert.Equal(0, (await RunAsync(["db"], ("ORDERCANCEL_PGDATA", _data), ("ORDERCANCEL_DB_PORT", port))).ExitCode);
        await Sql.ExecuteAsync(connectionString, "CREATE TABLE made_by_an_older_build (id int)");

        var refused = await RunAsync(["reset"], ("ConnectionStrings__Orders", connectionString));
        var reset = await RunAsync(["reset"], ("ORDERCANCEL_PGDATA", _data), ("ORDERCANCEL_DB_PORT", port));

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("reset only drops the local database this script manages", refused.Output, StringComparison.Ordinal);
        Assert.True(reset.ExitCode == 0, reset.Output);
        Assert.Contains("The database ordercancel is empty again", reset.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await Sql.ScalarAsync<long>(connectionString, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"));
    }

    [Fact]
    public async Task Busy_ports_are_named_before_the_build_one_line_each()
    {
        using var service = new TcpListener(IPAddress.Loopback, 0);
        using var database = new TcpListener(IPAddress.Loopback, 0);
        service.Start();
        database.Start();
        var servicePort = ((IPEndPoint)service.LocalEndpoint).Port;
        var databasePort = ((IPEndPoint)database.LocalEndpoint).Port;

        var run = await RunAsync([], ("ORDERCANCEL_PORT", $"{servicePort}"), ("ORDERCANCEL_DB_PORT", $"{databasePort}"), ("ORDERCANCEL_PGDATA", _data));

        Assert.Equal(1, run.ExitCode);
        Assert.DoesNotContain("Building", run.Output, StringComparison.Ordinal);
        Assert.Equal(
            [
                $"Port {servicePort} (for the service) is already in use. Stop what uses it, or choose another: ORDERCANCEL_PORT={servicePort + 1} ./scripts/run.sh",
                $"Port {databasePort} (for PostgreSQL) is already in use. Stop what uses it, or choose another: ORDERCANCEL_DB_PORT={databasePort + 1} ./scripts/run.sh",
            ],
            run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(Directory.Exists(_data), "PostgreSQL was set up although a port was busy.");
    }

    public void Dispose()
    {
        // Whatever a failed test left running is stopped (the data folder named: a failed test may have lost the list).
        if (Directory.Exists(_data))
        {
            RunAsync(["stop"], ("ORDERCANCEL_PGDATA", _data)).GetAwaiter().GetResult();
            Directory.Delete(_data, recursive: true);
        }

        Directory.Delete(_checkout, recursive: true);
    }

    /// <summary>Runs the copied run.sh with the test run's database settings removed, as a newcomer's shell has none.</summary>
    private async Task<(int ExitCode, string Output)> RunAsync(string[] arguments, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("bash");
        start.ArgumentList.Add(Path.Combine(_checkout, "scripts", "run.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in (string[])["ConnectionStrings__Orders", "ORDERCANCEL_PGDATA", "ORDERCANCEL_PORT", "ORDERCANCEL_DB_PORT"])
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return await ProcessOutput.RunToExitAsync(start, TimeSpan.FromMinutes(2));
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
