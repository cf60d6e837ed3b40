using Npgsql;

namespace OrderCancel.Api.Persistence;

/// <summary>
/// The hot statements (a key's lookup, an order's read, its lock, its save with its event, an idempotency key's claim
/// and answer) are prepared explicitly: the first time a pooled connection runs one, a round trip of its own parses
/// it, and the connection keeps it for as long as it lives, so PostgreSQL parses and plans it once per connection
/// instead of once per request.
/// </summary>
/// <remarks>
/// <para>
/// Explicit, never Npgsql's automatic preparation (<c>Max Auto Prepare</c>): an automatically prepared statement is
/// parsed in the same round trip that runs it, and when that run fails inside a transaction that is then rolled back,
/// Npgsql's bookkeeping can disagree with the server's and the connection desyncs (npgsql/npgsql#6391, open).
/// <c>NpgsqlCommand.PrepareAsync</c> parses and describes in a round trip that ends before the statement runs, so a
/// later failure, rollback, cancellation or timeout of the run changes nothing the connection knows about the
/// statement (PostgreSQL's prepared statements outlive transactions). <c>PoolStressTests</c> runs exactly that mix.
/// </para>
/// <para>
/// Only constant SQL texts come here: each distinct text is one statement kept per connection, so a text built from
/// values would grow without bound. Statements whose plan depends on which optional filters are set (the lists, the
/// events feed) are left unprepared: a generic plan would serve every combination with one plan.
/// </para>
/// <para>
/// Off with <c>Database:PrepareStatements=false</c>, for a pooler that hands a client's statements to other server
/// connections (PgBouncer in transaction mode before 1.21, or with <c>max_prepared_statements = 0</c>). One value per
/// process, set at start-up (<see cref="OrderCancelApp"/>).
/// </para>
/// </remarks>
internal static class PreparedStatements
{
    public static bool Enabled { get; set; } = true;

    public static Task PrepareAsync(NpgsqlCommand command, CancellationToken cancellation) =>
        Enabled ? command.PrepareAsync(cancellation) : Task.CompletedTask;

    public static Task PrepareAsync(NpgsqlBatch batch, CancellationToken cancellation) =>
        Enabled ? batch.PrepareAsync(cancellation) : Task.CompletedTask;
}
