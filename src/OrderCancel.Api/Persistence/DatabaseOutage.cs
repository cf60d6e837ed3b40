using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;

namespace OrderCancel.Api.Persistence;

/// <summary>
/// Whether the database has been lost, so that an outage is logged once when it starts and once when it ends,
/// not with a stack trace for every request and every background tick that meets it. While it lasts, a probe
/// asks the database every second and closes the outage when it takes writes again. A database that answers but
/// refuses writes (a standby, or a primary being promoted or demoted by a failover: <c>25006</c>) is an outage too:
/// the service cannot do its work there.
/// </summary>
public sealed class DatabaseOutage(IServiceScopeFactory scopes, ILogger<DatabaseOutage> logger)
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    /// <summary>What every 503 of a lost database says in <c>Retry-After</c>, requests and <c>/health/ready</c> alike.</summary>
    public const string RetryAfterSeconds = "5";

    private readonly Lock _gate = new();
    private long _startedAt;
    private bool _down;

    public bool IsDown
    {
        get
        {
            lock (_gate)
            {
                return _down;
            }
        }
    }

    /// <summary>
    /// True when <paramref name="exception"/> says the database cannot be reached or is refusing work for now: what
    /// Npgsql calls transient, <c>25006 read_only_sql_transaction</c> (a standby, or a primary that a failover is
    /// promoting or demoting, answered), and a connection exception (class 08, as PgBouncer refuses a client).
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    // Class 08 is a lost connection: PgBouncer's own refusals come as 08P01 (its query_wait_timeout
                    // while every server connection is busy, "no more connections allowed"), and were 500s.
                    return postgres.IsTransient
                        || postgres.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction
                        || postgres.SqlState.StartsWith("08", StringComparison.Ordinal);
                case NpgsqlException or SocketException or TimeoutException:
                    return true;
                default:
                    break;
            }
        }

        return false;
    }

    /// <summary>Records that a request or worker met the lost database; the first report of an outage logs it.</summary>
    public void Report(Exception exception)
    {
        if (IsReadOnly(exception))
        {
            ForgetReadOnlyConnections();
        }

        Report(Reason(exception));
    }

    /// <summary>
    /// Closes the pooled connections (idle ones now, busy ones when they are given back): after a failover, one that
    /// answered read-only may stay on a node that is no longer the primary, and Npgsql picks the host again only for a
    /// new connection (multi-host <c>Target Session Attributes</c>).
    /// </summary>
    public static void ForgetReadOnlyConnections() => NpgsqlConnection.ClearAllPools();

    private static bool IsReadOnly(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records that the database was found lost for <paramref name="reason"/>; the first report of an outage logs it.</summary>
    public void Report(string reason)
    {
        lock (_gate)
        {
            if (_down)
            {
                return;
            }

            _down = true;
            _startedAt = Stopwatch.GetTimestamp();
        }

        logger.LogWarning("The database cannot be reached ({Reason}); answering 503 until it is back", reason);
        _ = ProbeUntilBackAsync();
    }

    private async Task ProbeUntilBackAsync()
    {
        while (true)
        {
            await Task.Delay(ProbeInterval);
            try
            {
                // A probe is no work of anyone's: no span, nor a child of the request that met the outage first.
                using var untraced = Telemetry.Telemetry.Untraced();
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
                if (await Database.TakesWritesAsync(db, CancellationToken.None))
                {
                    break;
                }

                ForgetReadOnlyConnections();
            }
            catch (Exception exception) when (IsUnavailable(exception))
            {
                // Still down.
            }
        }

        TimeSpan lasted;
        lock (_gate)
        {
            _down = false;
            lasted = Stopwatch.GetElapsedTime(_startedAt);
        }

        logger.LogWarning("The database is reachable again after {Seconds:0.0} s", lasted.TotalSeconds);
    }

    private static string Reason(Exception exception)
    {
        var innermost = exception;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return innermost.Message;
    }
}
