using System.Diagnostics;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The schema is reviewed as <c>src/OrderCancel.Api/Persistence/schema.sql</c>: what <c>pg_dump --schema-only</c> gives
/// for a database the migrations made, normalised. A migration that changes the schema shows in review as a diff of that
/// file. <c>UPDATE_SCHEMA_SQL=1</c> rewrites it; <c>PG_DUMP</c> names the pg_dump command with its connection options
/// when this machine has no pg_dump of its own (the test adds the database's name).
/// </summary>
public sealed class SchemaTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly string SchemaFile = Path.Combine(RepositoryRoot.Path, "src", "OrderCancel.Api", "Persistence", "schema.sql");

    private const string Header = """
        -- The schema the migrations make: pg_dump --schema-only of a freshly migrated database, normalised.
        -- Generated; do not edit. After a migration: UPDATE_SCHEMA_SQL=1 ./scripts/test.sh --filter SchemaTests

        """;

    [Fact]
    public async Task Migrations_make_exactly_the_checked_in_schema_sql()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(database.ConnectionString);
        await using (var db = new OrdersDbContext((DbContextOptions<OrdersDbContext>)Database
            .UseOrders(new DbContextOptionsBuilder<OrdersDbContext>(), scratch.ConnectionString).Options))
        {
            await db.Database.MigrateAsync();
        }

        var schema = Header + "\n" + Normalise(await DumpSchemaAsync(scratch.ConnectionString));

        if (Environment.GetEnvironmentVariable("UPDATE_SCHEMA_SQL") == "1")
        {
            await File.WriteAllTextAsync(SchemaFile, schema);
        }

        Assert.True(File.Exists(SchemaFile), $"{SchemaFile} is missing: run UPDATE_SCHEMA_SQL=1 ./scripts/test.sh --filter SchemaTests");
        Assert.Equal((await File.ReadAllTextAsync(SchemaFile)).ReplaceLineEndings("\n"), schema);
    }

    /// <summary>The 18 pre-release migrations, and the first baseline with the one migration after it.</summary>
    [Theory]
    [InlineData("20261122160415_Initial", "20261203172206_DocumentsCompressedWithLz4")]
    [InlineData("20261207111643_Baseline", "20261207140244_FairOutbox")]
    public async Task A_database_made_by_an_older_build_stops_the_service_with_one_line_saying_what_to_do_and_is_left_as_it_was(string firstMigration, string laterMigration)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(database.ConnectionString);
        await Sql.ExecuteAsync(scratch.ConnectionString, $"""
            CREATE TABLE "__EFMigrationsHistory" (migration_id character varying(150) PRIMARY KEY, product_version character varying(32) NOT NULL);
            INSERT INTO "__EFMigrationsHistory" VALUES ('{firstMigration}', '10.0.5'), ('{laterMigration}', '10.0.5');
            """);
        var before = Normalise(await DumpSchemaAsync(scratch.ConnectionString));

        var (exitCode, output) = await ServiceProcess.RunToExitAsync(scratch.ConnectionString, new Dictionary<string, string>(), "--urls", "http://127.0.0.1:0");

        Assert.Equal(1, exitCode);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("FTL]", line, StringComparison.Ordinal);
        Assert.Contains(firstMigration, line, StringComparison.Ordinal);
        Assert.Contains("./scripts/run.sh reset", line, StringComparison.Ordinal);
        Assert.Equal(before, Normalise(await DumpSchemaAsync(scratch.ConnectionString)));
    }

    [Fact]
    public async Task The_migrate_command_refuses_a_database_made_by_an_older_build_too()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(database.ConnectionString);
        await Sql.ExecuteAsync(scratch.ConnectionString, """
            CREATE TABLE "__EFMigrationsHistory" (migration_id character varying(150) PRIMARY KEY, product_version character varying(32) NOT NULL);
            INSERT INTO "__EFMigrationsHistory" VALUES ('20261122160415_Initial', '10.0.5');
            """);

        var (exitCode, output) = await ServiceProcess.RunToExitAsync(scratch.ConnectionString, new Dictionary<string, string>(), "migrate");

        Assert.Equal(1, exitCode);
        Assert.Contains("./scripts/run.sh reset", Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(scratch.ConnectionString, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"));
    }

    /// <summary>
    /// pg_dump's output without what differs between machines and runs: comments (they carry versions), session
    /// settings, owners and grants, and the random key of <c>\restrict</c>; runs of blank lines become one.
    /// </summary>
    private static string Normalise(string dump)
    {
        var kept = new StringBuilder();
        var blank = true;
        foreach (var line in dump.ReplaceLineEndings("\n").Split('\n'))
        {
            if (line.StartsWith("--", StringComparison.Ordinal)
                || line.StartsWith("SET ", StringComparison.Ordinal)
                || line.StartsWith("SELECT pg_catalog.set_config", StringComparison.Ordinal)
                || line.StartsWith("\\restrict", StringComparison.Ordinal)
                || line.StartsWith("\\unrestrict", StringComparison.Ordinal))
            {
                continue;
            }

            var isBlank = line.Trim().Length == 0;
            if (!(isBlank && blank))
            {
                kept.Append(line).Append('\n');
            }

            blank = isBlank;
        }

        return kept.ToString().TrimEnd('\n') + "\n";
    }

    private static async Task<string> DumpSchemaAsync(string connectionString)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var command = Environment.GetEnvironmentVariable("PG_DUMP");
        var start = new ProcessStartInfo(command is null ? "pg_dump" : "sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] options = ["--schema-only", "--no-owner", "--no-privileges"];
        if (command is null)
        {
            foreach (var argument in options.Concat(["-h", target.Host!, "-p", target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", target.Username!, target.Database!]))
            {
                start.ArgumentList.Add(argument);
            }

            if (target.Password is not null)
            {
                start.Environment["PGPASSWORD"] = target.Password;
            }
        }
        else
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"{command} {string.Join(' ', options)} {target.Database}");
        }

        using var process = Process.Start(start)
            ?? throw new InvalidOperationException("pg_dump did not start: install PostgreSQL's client, or set PG_DUMP.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {await errors}");
        return await output;
    }
}
