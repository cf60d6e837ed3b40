using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Instances started at once on an empty database (a deploy, a cluster's first start): one migrates while the others
/// wait for its lock, and all of them serve. Before the lock, two of three crashed here on a migration another had
/// half applied.
/// </summary>
public sealed class ConcurrentStartTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int Instances = 3;

    [Fact]
    public async Task Three_instances_started_at_once_on_an_empty_database_all_migrate_it_once_and_serve()
    {
        var migrations = await Sql.ScalarAsync<long>(database.ConnectionString, "SELECT count(*) FROM \"__EFMigrationsHistory\"");

        // Rounds of `migrate` (the start-up's migration and exit), on a fresh database each: the race lost about one
        // start in four, so a single round could pass by luck.
        for (var round = 0; round < 3; round++)
        {
            await WithEmptyDatabaseAsync(async empty =>
            {
                var runs = await Task.WhenAll(Enumerable.Range(0, Instances).Select(_ => ServiceProcess.RunToExitAsync(empty, new Dictionary<string, string>(), "migrate")));
                Assert.All(runs, run => Assert.True(run.ExitCode == 0, $"A concurrent migrate failed:\n{run.Output}"));
                Assert.Equal(migrations, await Sql.ScalarAsync<long>(empty, "SELECT count(*) FROM \"__EFMigrationsHistory\""));
            });
        }

        // And whole services: each starts, and serves a partner once the database is theirs.
        await WithEmptyDatabaseAsync(async empty =>
        {
            var settings = new Dictionary<string, string> { ["Admin__ApiKey"] = ApiFactory.AdminKey };
            var services = await Task.WhenAll(Enumerable.Range(0, Instances).Select(_ => ServiceProcess.StartAsync(empty, settings)));
            try
            {
                var made = await (await services[0].Client(ApiFactory.AdminKey).PostAsync("/v1/admin/partners", Requests.Json("""{"name":"concurrent-start"}""")))
                    .ShouldBeAsync(HttpStatusCode.Created);
                var key = made.GetProperty("api_key").GetProperty("key").GetString()!;
                foreach (var service in services)
                {
                    await service.Client(key).CreateOrderAsync();
                }

                Assert.Equal(migrations, await Sql.ScalarAsync<long>(empty, "SELECT count(*) FROM \"__EFMigrationsHistory\""));
            }
            finally
            {
                foreach (var service in services)
                {
                    service.Dispose();
                }
            }
        });
    }

    private async Task WithEmptyDatabaseAsync(Func<string, Task> test)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(database.ConnectionString);
        await test(scratch.ConnectionString);
    }
}
