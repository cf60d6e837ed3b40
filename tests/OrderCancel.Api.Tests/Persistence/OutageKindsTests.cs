using Npgsql;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Which database errors are an outage (503 <c>unavailable</c>, logged once) rather than a bug (500 with its stack).
/// PgBouncer's refusals (08P01: its <c>query_wait_timeout</c> while every server connection is busy) were 500s, and
/// a standby's 25006 too.
/// </summary>
public sealed class OutageKindsTests
{
    [Theory]
    [InlineData("08P01", "query_wait_timeout")] // PgBouncer, every server connection busy for too long.
    [InlineData("08P01", "no more connections allowed (max_client_conn)")] // PgBouncer.
    [InlineData("08006", "connection failure")]
    [InlineData("25006", "cannot execute INSERT in a read-only transaction")] // A standby, a failover's promotion.
    [InlineData("57P01", "terminating connection due to administrator command")]
    [InlineData("53300", "sorry, too many clients already")]
    public void A_lost_refusing_or_read_only_database_is_an_outage(string sqlState, string message) =>
        Assert.True(DatabaseOutage.IsUnavailable(new InvalidOperationException("wrapped", new PostgresException(message, "FATAL", "FATAL", sqlState))));

    [Theory]
    [InlineData("23505", "duplicate key value violates unique constraint")]
    [InlineData("42P01", "relation does not exist")]
    [InlineData("22P02", "invalid input syntax")]
    public void A_bug_is_not_an_outage(string sqlState, string message) =>
        Assert.False(DatabaseOutage.IsUnavailable(new PostgresException(message, "ERROR", "ERROR", sqlState)));
}
