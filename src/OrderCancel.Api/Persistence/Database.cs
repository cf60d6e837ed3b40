using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrderCancel.Api.Partners;

namespace OrderCancel.Api.Persistence;

public static class Database
{
    /// <summary>Connections one instance may hold (Npgsql's own default is 100, a whole default PostgreSQL).</summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>Seconds an idle pooled connection is kept before it is closed (Npgsql's default is 300).</summary>
    public const int DefaultIdleLifetimeSeconds = 60;

    /// <summary>
    /// How the documents written on every change (an event's data, an idempotent answer's body) are compressed once a
    /// row passes PostgreSQL's ~2 KB threshold. Its default, pglz, took 2.9 s of the database's CPU to write 100,000
    /// events of 1.9 KB where lz4 took 0.9 s, for 1,013 bytes stored instead of 957 (bench/HISTORY.md). lz4 needs a
    /// PostgreSQL built <c>--with-lz4</c>: Debian's, the official Docker image and the major managed services are.
    /// </summary>
    public const string DocumentCompression = "lz4";

    /// <summary>
    /// <c>ConnectionStrings:Orders</c> with Npgsql's safe defaults (reset on close, no automatic preparation), and a
    /// connection budget: at most <see cref="DefaultMaxPoolSize"/> connections, idle ones closed after
    /// <see cref="DefaultIdleLifetimeSeconds"/> s, unless the string says otherwise. Instances × pool size must stay
    /// under PostgreSQL's <c>max_connections</c> minus headroom (docs/operations.md, "Connection budget"). Automatic preparation after
    /// a rollback can leave a pooled connection corrupt (an open Npgsql bug, npgsql/npgsql#6391), and a connection that
    /// desyncs can hand one request the rows of another, so the faster settings are not defaults; the hot statements are
    /// prepared explicitly instead (<see cref="PreparedStatements"/>). <c>PoolStressTests</c> runs a setting under error
    /// traffic before it may be one; bench/HISTORY.md says what the safe defaults cost.
    /// </summary>
    public static string ConnectionString(IConfiguration configuration)
    {
        var configured = configuration.GetConnectionString("Orders")
            ?? throw new InvalidOperationException("Set ConnectionStrings:Orders (env ConnectionStrings__Orders) to a PostgreSQL connection string.");
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = configured }.Keys
            .Cast<string>()
            .Select(key => key.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant())
            .ToHashSet(StringComparer.Ordinal);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(configured);
        if (!given.Contains("maximumpoolsize") && !given.Contains("maxpoolsize"))
        {
            builder.MaxPoolSize = DefaultMaxPoolSize;
        }

        if (!given.Contains("connectionidlelifetime"))
        {
            builder.ConnectionIdleLifetime = DefaultIdleLifetimeSeconds;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// What background work (the scheduler's and bulk jobs' batches, <see cref="Scheduling.BackgroundBatches"/>)
    /// connects with: the requests' string (<see cref="ConnectionString"/>) with an application name of its own, so its
    /// connections are a pool of their own, at most <see cref="Scheduling.BackgroundBatches.Workers"/>, and show as such
    /// in <c>pg_stat_activity</c>. On the requests' pool, a batch holding a connection for its whole transaction took one
    /// of the few a pool sized to the database's cores has (docs/operations.md, "Connection budget"), and requests queued behind it.
    /// </summary>
    public static string BackgroundConnectionString(IConfiguration configuration)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString(configuration));
        builder.ApplicationName = $"{(string.IsNullOrEmpty(builder.ApplicationName) ? "OrderCancel" : builder.ApplicationName)} background";
        builder.MaxPoolSize = Scheduling.BackgroundBatches.Workers;
        builder.MinPoolSize = Math.Min(builder.MinPoolSize, builder.MaxPoolSize);
        return builder.ConnectionString;
    }

    /// <summary>The context's settings, on whichever connection string (requests' or background work's).</summary>
    public static DbContextOptionsBuilder UseOrders(DbContextOptionsBuilder options, string connectionString) => options
        .UseNpgsql(connectionString)
        .UseSnakeCaseNamingConvention()
        // A failure is logged once, where it is handled: a fault by the exception handler with its stack, a lost
        // database as one outage (DatabaseOutage). EF Core's own error events would repeat each with a stack.
        .ConfigureWarnings(warnings => warnings.Ignore(
            RelationalEventId.ConnectionError,
            RelationalEventId.CommandError,
            RelationalEventId.TransactionError,
            CoreEventId.QueryIterationFailed,
            CoreEventId.SaveChangesFailed));

    /// <summary>
    /// The key of the transaction-scoped advisory lock start-up migrations hold, so that instances starting at once
    /// migrate one after another (EF Core's own migration lock did not stop three from racing). Transaction-scoped, so it
    /// holds through PgBouncer in transaction mode and cannot outlive a crashed instance.
    /// </summary>
    private const long MigrationLockKey = 0x4F72_6465_724D_6967; // "OrderMig"

    /// <summary>How long start-up waits between tries while the database cannot take writes.</summary>
    public static readonly TimeSpan StartupRetryInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Whether the database this context connects to takes writes: false on a standby, or on a primary a failover is
    /// promoting or demoting (<c>transaction_read_only</c> is on there; a write would fail with <c>25006</c>).
    /// </summary>
    public static async Task<bool> TakesWritesAsync(OrdersDbContext db, CancellationToken cancellation)
    {
        await db.Database.OpenConnectionAsync(cancellation);
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText = "SELECT NOT current_setting('transaction_read_only')::boolean";
            return await command.ExecuteScalarAsync(cancellation) is true;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// Applies pending migrations, under <see cref="MigrationLockKey"/>: the instance that takes it first migrates, the
    /// others wait for it and find nothing left to do. A database whose history names a migration this build does not
    /// have (one made before the history was squashed into one baseline, or by a newer build) is not touched: one line
    /// says what to do, and the answer is false. While the database cannot take writes (not reachable, no primary, a
    /// standby) it waits: <see cref="UntilWritableAsync"/>.
    /// </summary>
    public static Task<bool> MigrateAsync(IServiceProvider services, CancellationToken cancellation) =>
        UntilWritableAsync(services, async () =>
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
            // Its own connection, outside the pool EF Core migrates on: on a pool of one (Maximum Pool Size=1) the lock
            // would hold the only connection while the migrations waited for it, for ever.
            var unpooled = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString(services.GetRequiredService<IConfiguration>())) { Pooling = false };
            await using var held = new Npgsql.NpgsqlConnection(unpooled.ConnectionString);
            await held.OpenAsync(cancellation);
            await using var transaction = await held.BeginTransactionAsync(cancellation);
            await using (var take = new Npgsql.NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", held, transaction))
            {
                take.Parameters.Add(new Npgsql.NpgsqlParameter { Value = MigrationLockKey });
                await take.ExecuteNonQueryAsync(cancellation);
            }

            var known = db.Database.GetMigrations().ToHashSet(StringComparer.Ordinal);
            var foreign = (await db.Database.GetAppliedMigrationsAsync(cancellation)).FirstOrDefault(id => !known.Contains(id));
            if (foreign is not null)
            {
                services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Database)).LogCritical(
                    "This database was made by another build of OrderCancel (its migration {Migration} is not one of this build's): "
                    + "the pre-release migrations were folded into one baseline. Drop the database and start again "
                    + "(the local one of ./scripts/run.sh: ./scripts/run.sh reset), or run the build that made it.",
                    foreign);
                return false;
            }

            await db.Database.MigrateAsync(cancellation);
            await transaction.CommitAsync(cancellation);
            return true;
        }, cancellation);

    /// <summary>Start-up work: migrations when configured, and the Development demo partner. False when the service must not start.</summary>
    public static async Task<bool> PrepareAsync(WebApplication app)
    {
        var cancellation = app.Lifetime.ApplicationStopping;
        if (app.Configuration.GetValue("Database:MigrateOnStartup", defaultValue: true)
            && !await MigrateAsync(app.Services, cancellation))
        {
            return false;
        }

        var demoKey = app.Configuration["Demo:ApiKey"];
        if (app.Environment.IsDevelopment() && !string.IsNullOrWhiteSpace(demoKey))
        {
            await UntilWritableAsync(app.Services, async () =>
            {
                await using var scope = app.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
                await DemoPartner.SeedAsync(db, demoKey, TimeProvider.System.GetUtcNow(), cancellation);
                return true;
            }, cancellation);
        }

        return true;
    }

    /// <summary>
    /// Runs start-up <paramref name="work"/> until the database lets it through: while it cannot be reached, has no
    /// primary, or answers from a standby (<c>25006</c>, as during a failover), start-up waits
    /// (<see cref="StartupRetryInterval"/> between tries) instead of crashing, with one warning when it starts waiting and
    /// one when it goes on. Any other failure (a refused login, a bug) ends start-up as before.
    /// </summary>
    private static async Task<bool> UntilWritableAsync(IServiceProvider services, Func<Task<bool>> work, CancellationToken cancellation)
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Database));
        var waitingSince = (long?)null;
        while (true)
        {
            try
            {
                var done = await work();
                if (waitingSince is { } since)
                {
                    logger.LogWarning("The database takes writes after {Seconds:0.0} s; start-up goes on", System.Diagnostics.Stopwatch.GetElapsedTime(since).TotalSeconds);
                }

                return done;
            }
            catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception) && !cancellation.IsCancellationRequested)
            {
                if (waitingSince is null)
                {
                    waitingSince = System.Diagnostics.Stopwatch.GetTimestamp();
                    logger.LogWarning(
                        "Start-up waits for a database that takes writes ({Reason}); trying again every {Seconds} s",
                        exception.GetBaseException().Message,
                        StartupRetryInterval.TotalSeconds);
                }

                DatabaseOutage.ForgetReadOnlyConnections();
                await Task.Delay(StartupRetryInterval, cancellation);
            }
        }
    }
}

/// <summary>
/// Transactions on background work's own connections (<see cref="Database.BackgroundConnectionString"/>), each on a
/// context of its own: a request's connections stay the requests'.
/// </summary>
public sealed class BackgroundDatabase(IConfiguration configuration, ILoggerFactory loggers)
{
    private readonly DbContextOptions<OrdersDbContext> _options = (DbContextOptions<OrdersDbContext>)Database
        .UseOrders(new DbContextOptionsBuilder<OrdersDbContext>().UseLoggerFactory(loggers), Database.BackgroundConnectionString(configuration))
        .Options;

    /// <summary>Runs <paramref name="work"/> in a transaction, committed when it returns; the connection is given back before this returns.</summary>
    public async Task<T> InTransactionAsync<T>(Func<OrdersDbContext, CancellationToken, Task<T>> work, CancellationToken cancellation)
    {
        await using var db = new OrdersDbContext(_options);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellation);
        var result = await work(db, cancellation);
        await transaction.CommitAsync(cancellation);
        return result;
    }
}

/// <summary>
/// <c>/health/ready</c>: the database answers and takes writes (not a standby, nor a primary a failover is promoting or
/// demoting: an instance that cannot write is taken out of a load balancer's rotation), and the instance is not stopping
/// (<see cref="Http.ShutdownDrain"/>). A lost database is reported to <see cref="DatabaseOutage"/>, so that a
/// probe takes part in the outage's logging as a request does (one warning when it starts, one when it ends); while the
/// outage lasts the check answers from it without connecting, and the outage's own probe notices the end.
/// </summary>
public sealed class DatabaseHealthCheck(OrdersDbContext db, DatabaseOutage outage, Http.ShutdownDrain shutdown, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
{
    public const string Tag = "ready";

    /// <summary>
    /// How <c>/health/ready</c> answers: <c>Healthy</c> or <c>Unhealthy</c> as text, as the framework's writer does, and
    /// a 503 with the <c>Retry-After</c> of every other 503.
    /// </summary>
    public static HealthCheckOptions ReadinessOptions() => new()
    {
        Predicate = check => check.Tags.Contains(Tag),
        ResponseWriter = (http, report) =>
        {
            if (report.Status == HealthStatus.Unhealthy)
            {
                http.Response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds;
            }

            http.Response.ContentType = "text/plain";
            return http.Response.WriteAsync(report.Status.ToString());
        },
    };

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (shutdown.IsDraining)
        {
            return HealthCheckResult.Unhealthy("The instance is stopping.");
        }

        if (outage.IsDown)
        {
            return Lost();
        }

        try
        {
            if (await Database.TakesWritesAsync(db, cancellationToken))
            {
                return HealthCheckResult.Healthy();
            }

            DatabaseOutage.ForgetReadOnlyConnections();
            outage.Report("it answers read-only: a standby, or a primary a failover is promoting or demoting");
            return Lost();
        }
        catch (Exception exception) when (DatabaseOutage.IsUnavailable(exception))
        {
            outage.Report(exception);
            return Lost();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The health-check service's own log is off (appsettings: it would say "Unhealthy" at Error on every probe
            // of an outage), so a failure that is not an outage (a wrong database name, a refused login) is logged here.
            logger.LogError(exception, "The readiness check failed");
            return HealthCheckResult.Unhealthy("The database refused the connection.", exception);
        }
    }

    private static HealthCheckResult Lost() => HealthCheckResult.Unhealthy("The database cannot be reached.");
}
