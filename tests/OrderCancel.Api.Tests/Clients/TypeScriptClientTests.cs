using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The TypeScript library (clients/typescript, <c>@ordercancel/client</c>): its own tests
/// (clients/typescript/test/client.test.ts, <c>npm test</c> under Node's test runner) against the service as a process
/// on a real database: the docs' walk, a retry after an answer lost on the wire that applies once, 429 and 503 waited
/// out as <c>Retry-After</c> says, a 422 not retried, 250 orders as an async iterable, webhook deliveries verified, and
/// every operation of openapi.json exposed. Then <c>npm pack</c> makes its package.
/// </summary>
public sealed class TypeScriptClientTests(DatabaseOnly database, ITestOutputHelper output) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = ClientServiceSettings.Create();

    private static string Folder => Path.Combine(RepositoryRoot.Path, "clients", "typescript");

    [Fact]
    public async Task The_libraries_own_tests_pass_against_the_service_process_and_npm_pack_makes_its_package()
    {
        // The first process reaches the database through a proxy the tests can cut (POST /cut, /restore on the control URL).
        var direct = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var proxy = TcpProxy.Start(direct.Host!, direct.Port);
        var viaProxy = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port };
        using var service = await ServiceProcess.StartAsync(viaProxy.ConnectionString, Settings);
        using var limited = await ServiceProcess.StartAsync(database.ConnectionString, ClientServiceSettings.Create(permitsPerSecond: 3));
        await using var control = await ControlAsync(proxy);
        var partner = await database.NewPartnerAsync();

        var (exitCode, said) = await NpmAsync(["test"], new Dictionary<string, string>
        {
            ["ORDERCANCEL_URL"] = service.BaseUrl,
            ["ORDERCANCEL_KEY"] = partner.Key,
            ["ORDERCANCEL_LIMITED_URL"] = limited.BaseUrl,
            ["ORDERCANCEL_CONTROL_URL"] = control.Urls.Single(),
        });
        output.WriteLine(said);
        Assert.True(exitCode == 0, $"npm test failed ({exitCode}):\n{said}");
        Assert.Contains("# fail 0", said, StringComparison.Ordinal);

        var packed = Directory.CreateTempSubdirectory("ordercancel-npm-pack-");
        try
        {
            var (packCode, packSaid) = await NpmAsync(["pack", "--pack-destination", packed.FullName], []);
            Assert.True(packCode == 0, $"npm pack failed ({packCode}):\n{packSaid}");
            var package = Assert.Single(packed.GetFiles("ordercancel-client-*.tgz"));
            Assert.True(package.Length > 1000, $"{package.Name} is {package.Length} bytes.");
        }
        finally
        {
            packed.Delete(recursive: true);
        }
    }

    private static async Task<WebApplication> ControlAsync(TcpProxy proxy)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/cut", () => { proxy.Cut(); return Results.NoContent(); });
        app.MapPost("/restore", () => { proxy.Restore(); return Results.NoContent(); });
        await app.StartAsync();
        return app;
    }

    private static async Task<(int ExitCode, string Output)> NpmAsync(string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("npm", arguments) { WorkingDirectory = Folder };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return await ProcessOutput.RunToExitAsync(start, TimeSpan.FromMinutes(5));
    }
}
