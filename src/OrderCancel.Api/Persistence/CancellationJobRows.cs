using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Http;

namespace OrderCancel.Api.Persistence;

/// <summary>A job's batch: which job, whose orders, and the ids it claimed (locked until its transaction ends).</summary>
public sealed record JobBatch(Guid PartnerId, bool DryRun, JobRequest Request, long[] OrderIds);

/// <summary>What a batch did to one order, written in the transaction that changed it.</summary>
public sealed record JobOrderOutcome(long OrderId, JobOutcome Outcome, string? Code, Guid? EventId, decimal AmountReleased, string? Currency);

/// <summary>
/// The bulk jobs' SQL, by hand where EF Core has no form for it: fixing a job's orders (<c>INSERT … SELECT</c> over the
/// filter), claiming a batch with <c>SKIP LOCKED</c>, and writing a batch's outcomes in one statement.
/// </summary>
internal static class CancellationJobRows
{
    private const string ClaimJobToStartSql = """
        SELECT id, partner_id, request::text, order_ids FROM cancellation_jobs
        WHERE status = 'queued'
        ORDER BY created_at LIMIT 1
        FOR UPDATE SKIP LOCKED
        """;

    /// <summary>Every id gets a row; one that is not the partner's order is refused as a single cancel would answer it.</summary>
    private const string SelectByIdsSql = """
        INSERT INTO cancellation_job_orders (job_id, order_id, outcome, code, processed_at)
        SELECT $1, i.id,
               CASE WHEN o.id IS NULL THEN 'refused' ELSE 'pending' END,
               CASE WHEN o.id IS NULL THEN 'order_not_found' END,
               CASE WHEN o.id IS NULL THEN $4 END
        FROM unnest($3::bigint[]) AS i(id)
        LEFT JOIN orders o ON o.id = i.id AND o.partner_id = $2
        """;

    /// <summary>Each criterion applies when given; the plan is made for the values given (unnamed statements).</summary>
    private const string SelectByFilterSql = """
        INSERT INTO cancellation_job_orders (job_id, order_id, outcome)
        SELECT $1, o.id, 'pending' FROM orders o
        WHERE o.partner_id = $2
          AND ($3::text IS NULL OR o.status = $3)
          AND ($4::text IS NULL OR o.kind = $4)
          AND ($5::text IS NULL OR o.customer_ref = $5)
          AND ($6::text IS NULL OR o.reference = $6)
          AND ($7::timestamptz IS NULL OR o.created_at >= $7)
          AND ($8::timestamptz IS NULL OR o.created_at < $8)
          AND ($9::jsonb IS NULL OR o.metadata::jsonb @> $9)
          AND ($10::text IS NULL OR EXISTS (
                SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.sku = $10 AND l.cancelled_quantity < l.quantity))
        """;

    private const string MarkRunningSql = "UPDATE cancellation_jobs SET status = 'running', started_at = $2, order_ids = NULL WHERE id = $1";

    /// <summary>
    /// A job's lock: batches hold it shared, while ending a job (stop, complete) holds it exclusively. Advisory, not the
    /// job's row lock, because PostgreSQL queues a heavyweight lock's requests fairly: once a stop waits, new batches
    /// wait behind it (and then find the job stopped), where share locks on the row would let batches starve it.
    /// The two-key form keeps these keys apart from the idempotency keys' (one bigint).
    /// </summary>
    private const string JobLockClass = "6975330"; // "job" in ASCII, as a number

    private const string ShareJobLockSql = $"SELECT pg_advisory_xact_lock_shared({JobLockClass}, hashtext($1::text))";

    private const string ExclusiveJobLockSql = $"SELECT pg_advisory_xact_lock({JobLockClass}, hashtext($1::text))";

    /// <summary>Read after the shared lock is held, so a stop that committed before is seen.</summary>
    private const string JobOfBatchSql = "SELECT partner_id, dry_run, request::text FROM cancellation_jobs WHERE id = $1 AND status = 'running'";

    private const string ClaimBatchSql = """
        SELECT order_id FROM cancellation_job_orders
        WHERE job_id = $1 AND outcome = 'pending'
        ORDER BY order_id LIMIT $2
        FOR UPDATE SKIP LOCKED
        """;

    private const string SaveOutcomesSql = """
        UPDATE cancellation_job_orders AS j
        SET outcome = v.outcome, code = v.code, event_id = v.event_id, amount_released = v.amount_released,
            currency = v.currency, processed_at = $2
        FROM unnest($3::bigint[], $4::text[], $5::text[], $6::uuid[], $7::numeric[], $8::text[])
            AS v(order_id, outcome, code, event_id, amount_released, currency)
        WHERE j.job_id = $1 AND j.order_id = v.order_id
        """;

    /// <summary>Claims the oldest queued job, fixes the orders it covers, and marks it running. Null when none is queued.</summary>
    public static async Task<Guid?> StartNextAsync(NpgsqlConnection connection, DbTransaction? transaction, DateTimeOffset now, CancellationToken cancellation)
    {
        Guid jobId, partnerId;
        JobRequest request;
        long[]? ids;
        await using (var claim = new NpgsqlCommand(ClaimJobToStartSql, connection, (NpgsqlTransaction?)transaction))
        await using (var reader = await claim.ExecuteReaderAsync(cancellation))
        {
            if (!await reader.ReadAsync(cancellation))
            {
                return null;
            }

            (jobId, partnerId, request) = (reader.GetGuid(0), reader.GetGuid(1), JobRequest.Parse(reader.GetString(2)));
            ids = reader.IsDBNull(3) ? null : reader.GetFieldValue<long[]>(3);
        }

        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)transaction)
        {
            BatchCommands =
            {
                ids is not null
                    ? new NpgsqlBatchCommand(SelectByIdsSql) { Parameters = { Value(jobId), Value(partnerId), Value(ids), Value(now) } }
                    : SelectByFilter(jobId, partnerId, request.Filter!),
                new NpgsqlBatchCommand(MarkRunningSql) { Parameters = { Value(jobId), Value(now) } },
            },
        };
        await batch.ExecuteNonQueryAsync(cancellation);
        return jobId;
    }

    /// <summary>A batch of the job's pending orders, claimed; null when the job is not running (stopped, or finished).</summary>
    public static async Task<JobBatch?> ClaimBatchAsync(
        NpgsqlConnection connection, DbTransaction? transaction, Guid jobId, int limit, CancellationToken cancellation)
    {
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(ShareJobLockSql) { Parameters = { Value(jobId) } },
                new NpgsqlBatchCommand(JobOfBatchSql) { Parameters = { Value(jobId) } },
                new NpgsqlBatchCommand(ClaimBatchSql) { Parameters = { Value(jobId), Value(limit) } },
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellation);
        await reader.NextResultAsync(cancellation);
        if (!await reader.ReadAsync(cancellation))
        {
            return null;
        }

        var (partnerId, dryRun, request) = (reader.GetGuid(0), reader.GetBoolean(1), JobRequest.Parse(reader.GetString(2)));
        await reader.NextResultAsync(cancellation);
        List<long> ids = [];
        while (await reader.ReadAsync(cancellation))
        {
            ids.Add(reader.GetInt64(0));
        }

        return new JobBatch(partnerId, dryRun, request, [.. ids]);
    }

    /// <summary>Waits until no batch of the job is in flight, and keeps new ones out until the transaction ends.</summary>
    public static async Task LockJobExclusivelyAsync(NpgsqlConnection connection, DbTransaction? transaction, Guid jobId, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(ExclusiveJobLockSql, connection, (NpgsqlTransaction?)transaction) { Parameters = { Value(jobId) } };
        await command.ExecuteNonQueryAsync(cancellation);
    }

    public static async Task SaveOutcomesAsync(
        NpgsqlConnection connection,
        DbTransaction? transaction,
        Guid jobId,
        IReadOnlyList<JobOrderOutcome> outcomes,
        DateTimeOffset now,
        CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(SaveOutcomesSql, connection, (NpgsqlTransaction?)transaction)
        {
            Parameters =
            {
                Value(jobId),
                Value(now),
                Value<long[]>([.. outcomes.Select(o => o.OrderId)]),
                Value<string[]>([.. outcomes.Select(o => Json.Name(o.Outcome))]),
                Value<string?[]>([.. outcomes.Select(o => o.Code)]),
                Value<Guid?[]>([.. outcomes.Select(o => o.EventId)]),
                Value<decimal[]>([.. outcomes.Select(o => o.AmountReleased)]),
                Value<string?[]>([.. outcomes.Select(o => o.Currency)]),
            },
        };
        await command.ExecuteNonQueryAsync(cancellation);
    }

    private static NpgsqlBatchCommand SelectByFilter(Guid jobId, Guid partnerId, JobFilter filter) => new(SelectByFilterSql)
    {
        Parameters =
        {
            Value(jobId),
            Value(partnerId),
            Optional(filter.Status is { } status ? Json.Name(status) : null, NpgsqlDbType.Text),
            Optional(filter.Kind is { } kind ? Json.Name(kind) : null, NpgsqlDbType.Text),
            Optional(filter.CustomerRef, NpgsqlDbType.Text),
            Optional(filter.Reference, NpgsqlDbType.Text),
            Optional(filter.CreatedFrom, NpgsqlDbType.TimestampTz),
            Optional(filter.CreatedTo, NpgsqlDbType.TimestampTz),
            Optional(filter.Metadata?.Text, NpgsqlDbType.Jsonb),
            Optional(filter.Sku, NpgsqlDbType.Text),
        },
    };

    private static NpgsqlParameter Optional(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };
}
