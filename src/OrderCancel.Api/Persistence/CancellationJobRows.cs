using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Http;
using OrderCancel.Api.Scheduling;
using OrderCancel.Domain;

using static OrderCancel.Api.Persistence.SqlParameters;

namespace OrderCancel.Api.Persistence;

/// <summary>A job's batch: the job's request, the ids it claimed (locked until its transaction ends) and the partner's orders among them.</summary>
/// <param name="Policy">The partner's settings as the batch found them (SPEC §11: the window, the shipping rule).</param>
/// <param name="Orders">The partner's orders among <paramref name="OrderIds"/>, in id order, with their lines; locked unless a dry run.</param>
public sealed record JobBatch(bool DryRun, JobRequest Request, PartnerPolicy Policy, long[] OrderIds, IReadOnlyList<Order> Orders);

/// <summary>A queued job as its start reads it: the request as stored, and the order ids of an <c>order_ids</c> job.</summary>
public sealed record QueuedJob(Guid Id, Guid PartnerId, string Request, long[]? OrderIds);

/// <summary>What a batch did to one order, written in the transaction that changed it.</summary>
public sealed record JobOrderOutcome(long OrderId, JobOutcome Outcome, string? Code, Guid? EventId, decimal AmountReleased, string? Currency);

/// <summary>
/// The bulk jobs' SQL, by hand where EF Core has no form for it: fixing a job's orders in chunks (<c>INSERT … SELECT</c>
/// over the filter), claiming a chunk with <c>SKIP LOCKED</c>, writing a batch's outcomes in one statement, and reading
/// a job's results (its outcomes, and the ids its chunks still hold) a page at a time.
/// </summary>
internal static class CancellationJobRows
{
    private const string ClaimJobToStartSql = """
        SELECT id, partner_id, request::text, order_ids FROM cancellation_jobs
        WHERE status = 'queued' AND NOT (id = ANY($1))
        ORDER BY created_at LIMIT 1
        FOR NO KEY UPDATE SKIP LOCKED
        """;

    /// <summary>
    /// An id that is not the partner's order gets its outcome at once (refused as a single cancel would answer it); the
    /// others go into chunks.
    /// </summary>
    private static readonly string SelectByIdsSql = $"""
        WITH given AS (
            SELECT i.id, o.id IS NOT NULL AS found
            FROM unnest($3::bigint[]) AS i(id)
            LEFT JOIN orders o ON o.id = i.id AND o.partner_id = $2),
        refused AS (
            INSERT INTO cancellation_job_orders (job_id, order_id, outcome, code, processed_at)
            SELECT $1, id, 'refused', 'order_not_found', $4 FROM given WHERE NOT found)
        {InsertChunks("SELECT id FROM given WHERE found")}
        """;

    /// <summary>
    /// The ids <paramref name="selection"/> answers (one column, <c>id</c>), ascending, in chunks of a batch
    /// (<see cref="BackgroundBatches.BatchSize"/>): so every chunk but the job's last is full. The ids are sorted once
    /// into one array and the chunks sliced from it; numbering them with <c>row_number()</c> and grouping by chunk
    /// sorted them twice, the second time on disk past a few tens of thousands (100,000 ids: 380 ms against 280;
    /// 700,000: 1.1–1.5 s against 0.29, bench/HISTORY.md). None selected: no array, no chunk.
    /// </summary>
    private static string InsertChunks(string selection) => $"""
        INSERT INTO cancellation_job_chunks (job_id, first_order_id, order_ids)
        SELECT $1, s.ids[c * {BackgroundBatches.BatchSize} + 1], s.ids[c * {BackgroundBatches.BatchSize} + 1 : (c + 1) * {BackgroundBatches.BatchSize}]
        FROM (SELECT array_agg(id ORDER BY id) AS ids FROM ({selection}) AS selected) AS s,
             generate_series(0, (cardinality(s.ids) - 1) / {BackgroundBatches.BatchSize}) AS c
        """;

    /// <summary>
    /// One metadata criterion (key, JSON kind, value as text) against the order's metadata, read as stored (json, not
    /// cast to jsonb as a whole: orders keep their metadata as sent, and a number PostgreSQL's numeric cannot hold, such
    /// as 1e999999, would make every job with a metadata filter fail). A number is compared as a number only when its
    /// text is one numeric can take; CASE keeps the cast from running on anything else.
    /// </summary>
    private const string MetadataValueEquals = """
        CASE
            WHEN json_typeof(o.metadata -> f.key) IS DISTINCT FROM f.kind THEN false
            WHEN f.kind = 'number' THEN
                CASE WHEN (o.metadata ->> f.key) ~ '^-?[0-9]{1,200}(\.[0-9]{1,200})?([eE][-+]?[0-9]{1,3})?$'
                     THEN (o.metadata ->> f.key)::numeric = f.value::numeric
                     ELSE false
                END
            ELSE (o.metadata ->> f.key) = f.value
        END
        """;

    /// <summary>Marks the job running with the count of its orders.</summary>
    private const string MarkRunningSql = """
        UPDATE cancellation_jobs
        SET status = 'running', started_at = $2, order_ids = NULL,
            matched = (SELECT coalesce(sum(cardinality(order_ids)), 0) FROM cancellation_job_chunks WHERE job_id = $1)
                    + (SELECT count(*) FROM cancellation_job_orders WHERE job_id = $1)
        WHERE id = $1
        """;

    /// <summary>Tallies the ids refused as the job started (not the partner's orders).</summary>
    private const string TallyNotFoundSql = """
        INSERT INTO cancellation_job_tallies (job_id, outcome, code, orders, amount_released)
        SELECT $1, 'refused', 'order_not_found', count(*), 0 FROM cancellation_job_orders WHERE job_id = $1 AND outcome = 'refused'
        HAVING count(*) > 0
        """;

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
    private const string JobOfBatchSql = $"""
        SELECT j.request::text, {PartnerPolicyColumns.Select}
        FROM cancellation_jobs j JOIN partners p ON p.id = j.partner_id
        WHERE j.id = $1 AND j.status = 'running'
        """;

    private static readonly string ClaimAndLockBatchSql = ClaimBatchSql("FOR UPDATE");

    private static readonly string ClaimAndReadBatchSql = ClaimBatchSql(lockClause: "");

    /// <summary>
    /// The batch's outcomes, its chunk deleted (its orders are no longer pending), and its tallies counted from the rows
    /// it wrote (by outcome, code and, but for refusals, currency), in one statement.
    /// </summary>
    private const string SaveOutcomesSql = """
        WITH processed AS (DELETE FROM cancellation_job_chunks WHERE job_id = $1 AND first_order_id = $9),
        saved AS (
            INSERT INTO cancellation_job_orders (job_id, order_id, outcome, code, event_id, amount_released, currency, processed_at)
            SELECT $1, v.*, $2
            FROM unnest($3::bigint[], $4::text[], $5::text[], $6::uuid[], $7::numeric[], $8::text[])
                AS v(order_id, outcome, code, event_id, amount_released, currency)
            RETURNING outcome, code, CASE WHEN outcome = 'refused' THEN NULL ELSE currency END AS currency, amount_released)
        INSERT INTO cancellation_job_tallies (job_id, outcome, code, currency, orders, amount_released)
        SELECT $1, outcome, code, currency, count(*), sum(amount_released) FROM saved GROUP BY outcome, code, currency
        """;

    /// <summary>
    /// Claims the job's next chunk (SKIP LOCKED) and reads its orders in the same statement, taking
    /// <paramref name="lockClause"/> on each order in id order (none for a dry run, which changes nothing). Every id of
    /// the chunk comes back, with its order's columns null when the partner has no such order. A stopped job claims nothing.
    /// </summary>
    private static string ClaimBatchSql(string lockClause) => $"""
        WITH claimed AS (
            SELECT order_ids FROM cancellation_job_chunks
            WHERE job_id = $1 AND first_order_id > $2
              AND EXISTS (SELECT 1 FROM cancellation_jobs WHERE id = $1 AND status = 'running')
            ORDER BY first_order_id LIMIT 1
            FOR UPDATE SKIP LOCKED)
        SELECT {OrderRows.OrderColumns}, c.order_id
        FROM claimed, unnest(claimed.order_ids) WITH ORDINALITY AS c(order_id, position)
        LEFT JOIN LATERAL (SELECT * FROM orders WHERE id = c.order_id AND partner_id = $3 {lockClause}) o ON true
        ORDER BY c.position
        """;

    /// <summary>
    /// A page of a job's results: its outcomes past the cursor (those of one outcome when <c>$3</c> is given), and its
    /// pending ids past it (when <c>$5</c>), in one statement so that both are read from one snapshot: a batch that
    /// commits meanwhile cannot make an order appear twice, or not at all. The pending ids are read from the chunk that
    /// holds the cursor on (chunks cover disjoint ranges in ascending order), and only from the chunks the page needs:
    /// those before which fewer ids past the cursor than the page's size come (the count read from each array's
    /// length, not by unnesting it).
    /// </summary>
    private const string ResultsPageSql = """
        SELECT order_id, outcome, code, event_id, amount_released, currency FROM (
            (SELECT order_id, outcome, code, event_id, amount_released, currency FROM cancellation_job_orders
             WHERE job_id = $1 AND order_id > $2 AND ($3::text IS NULL OR outcome = $3) AND $3 IS DISTINCT FROM 'pending'
             ORDER BY order_id LIMIT $4)
            UNION ALL
            (SELECT i.order_id, 'pending', NULL, NULL, NULL, NULL
             FROM (SELECT order_ids, sum(past) OVER (ORDER BY first_order_id) - past AS before
                   FROM (SELECT first_order_id, order_ids,
                                CASE WHEN first_order_id > $2 THEN cardinality(order_ids)
                                     ELSE (SELECT count(*) FROM unnest(order_ids) AS ids(id) WHERE id > $2) END AS past
                         FROM cancellation_job_chunks
                         WHERE $5 AND job_id = $1
                           AND first_order_id >= coalesce(
                                 (SELECT max(first_order_id) FROM cancellation_job_chunks WHERE job_id = $1 AND first_order_id <= $2), $2)
                         ORDER BY first_order_id
                         LIMIT $4) AS next) AS c
             CROSS JOIN LATERAL unnest(c.order_ids) AS i(order_id)
             WHERE c.before < $4 AND i.order_id > $2)) AS results
        ORDER BY order_id
        LIMIT $4
        """;

    /// <summary>
    /// Up to <paramref name="limit"/> of a job's results past <paramref name="after"/> in order id order: its outcomes
    /// and its pending orders (those its chunks still hold), or only those of <paramref name="outcome"/>.
    /// </summary>
    public static async Task<List<JobResultResponse>> ResultsPageAsync(
        NpgsqlConnection connection, Guid jobId, JobOutcome? outcome, long after, int limit, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(ResultsPageSql, connection)
        {
            Parameters =
            {
                Value(jobId),
                Value(after),
                OrNull(outcome is { } only ? Json.Name(only) : null),
                Value(limit),
                Value(outcome is null or JobOutcome.Pending),
            },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        List<JobResultResponse> page = [];
        while (await reader.ReadAsync(cancellation))
        {
            page.Add(new JobResultResponse(
                reader.GetInt64(0),
                Json.Parse<JobOutcome>(reader.GetString(1)),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3),
                reader.IsDBNull(4) ? null : reader.GetDecimal(4),
                reader.IsDBNull(5) ? null : reader.GetString(5)));
        }

        return page;
    }

    /// <summary>Claims (locks) the oldest queued job but those in <paramref name="skip"/>; null when there is none.</summary>
    public static async Task<QueuedJob?> ClaimToStartAsync(
        NpgsqlConnection connection, DbTransaction? transaction, Guid[] skip, CancellationToken cancellation)
    {
        await using var claim = new NpgsqlCommand(ClaimJobToStartSql, connection, (NpgsqlTransaction?)transaction) { Parameters = { Value(skip) } };
        await using var reader = await claim.ExecuteReaderAsync(cancellation);
        return await reader.ReadAsync(cancellation)
            ? new QueuedJob(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<long[]>(3))
            : null;
    }

    /// <summary>Fixes the orders a claimed job covers (its ids, or what its filter selects now) and marks it running.</summary>
    public static async Task StartAsync(NpgsqlConnection connection, DbTransaction? transaction, QueuedJob job, DateTimeOffset now, CancellationToken cancellation)
    {
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)transaction)
        {
            BatchCommands =
            {
                job.OrderIds is { } ids
                    ? new NpgsqlBatchCommand(SelectByIdsSql) { Parameters = { Value(job.Id), Value(job.PartnerId), Value(ids), Value(now) } }
                    : SelectByFilter(job.Id, job.PartnerId, JobRequest.Parse(job.Request).Filter
                        ?? throw new InvalidOperationException($"Cancellation job {job.Id} has neither order ids nor a filter.")),
                new NpgsqlBatchCommand(MarkRunningSql) { Parameters = { Value(job.Id), Value(now) } },
                new NpgsqlBatchCommand(TallyNotFoundSql) { Parameters = { Value(job.Id) } },
            },
        };
        await batch.ExecuteNonQueryAsync(cancellation);
    }

    /// <summary>
    /// A batch of the job's pending orders, claimed, with the orders (locked unless the job is a dry run) and their
    /// lines; null when the job is not running (stopped, or finished).
    /// </summary>
    /// <remarks>Only orders past what the sweep's batches claimed so far (see <see cref="JobSweep"/>).</remarks>
    public static async Task<JobBatch?> ClaimBatchAsync(
        NpgsqlConnection connection, DbTransaction? transaction, JobSweep sweep, CancellationToken cancellation)
    {
        JobRequest request;
        PartnerPolicy policy;
        OrderRows.ClaimedOrders claimed;
        await using (var batch = new NpgsqlBatch(connection, (NpgsqlTransaction?)transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(ShareJobLockSql) { Parameters = { Value(sweep.JobId) } },
                new NpgsqlBatchCommand(JobOfBatchSql) { Parameters = { Value(sweep.JobId) } },
                new NpgsqlBatchCommand(sweep.DryRun ? ClaimAndReadBatchSql : ClaimAndLockBatchSql)
                {
                    Parameters = { Value(sweep.JobId), Value(sweep.ClaimedUpTo), Value(sweep.PartnerId) },
                },
            },
        })
        await using (var reader = await batch.ExecuteReaderAsync(cancellation))
        {
            await reader.NextResultAsync(cancellation);
            if (!await reader.ReadAsync(cancellation))
            {
                return null;
            }

            (request, policy) = (JobRequest.Parse(reader.GetString(0)), PartnerPolicyColumns.Read(reader, 1));
            await reader.NextResultAsync(cancellation);
            claimed = await OrderRows.ReadClaimedAsync(reader, cancellation);
        }

        var orders = await OrderRows.WithLinesAsync(claimed, connection, transaction, cancellation);
        return new JobBatch(sweep.DryRun, request, policy, [.. claimed.Ids], orders);
    }

    /// <summary>Waits until no batch of the job is in flight, and keeps new ones out until the transaction ends.</summary>
    public static async Task LockJobExclusivelyAsync(NpgsqlConnection connection, DbTransaction? transaction, Guid jobId, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(ExclusiveJobLockSql, connection, (NpgsqlTransaction?)transaction) { Parameters = { Value(jobId) } };
        await command.ExecuteNonQueryAsync(cancellation);
    }

    /// <summary>
    /// The statements that write each order's outcome and the batch's tallies, and delete its chunk (the one whose first
    /// id is <paramref name="chunk"/>), sent with the orders' changes.
    /// </summary>
    public static IReadOnlyList<NpgsqlBatchCommand> SaveOutcomes(Guid jobId, long chunk, IReadOnlyList<JobOrderOutcome> outcomes, DateTimeOffset now) =>
    [
        new NpgsqlBatchCommand(SaveOutcomesSql)
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
                Value(chunk),
            },
        },
    ];

    /// <summary>
    /// The filter's selection, with only the criteria given in the statement (their values as parameters). Not one
    /// statement with <c>($12 IS NULL OR EXISTS (…))</c> for each: PostgreSQL turns an <c>EXISTS</c> into a join only
    /// when no <c>OR</c> is above it, so the <c>sku</c> criterion became a filter tried on every order in the table,
    /// read in id order (2.2 million read to find a recall's 40,000: 3 s, where the join through the lines' <c>sku</c>
    /// index reads the 40,000).
    /// </summary>
    internal static NpgsqlBatchCommand SelectByFilter(Guid jobId, Guid partnerId, JobFilter filter)
    {
        var command = new NpgsqlBatchCommand { Parameters = { Value(jobId), Value(partnerId) } };
        string Parameter(NpgsqlParameter value)
        {
            command.Parameters.Add(value);
            return $"${command.Parameters.Count}";
        }

        List<string> criteria = ["o.partner_id = $2"];
        if (filter.Status is { } status)
        {
            criteria.Add($"o.status = {Parameter(Value(Json.Name(status)))}");
        }

        if (filter.Kind is { } kind)
        {
            criteria.Add($"o.kind = {Parameter(Value(Json.Name(kind)))}");
        }

        if (filter.CustomerRef is { } customerRef)
        {
            criteria.Add($"o.customer_ref = {Parameter(Value(customerRef))}");
        }

        if (filter.Reference is { } reference)
        {
            criteria.Add($"o.reference = {Parameter(Value(reference))}");
        }

        if (filter.CreatedFrom is { } from)
        {
            criteria.Add($"o.created_at >= {Parameter(Value(from.ToUniversalTime()))}");
        }

        if (filter.CreatedTo is { } to)
        {
            criteria.Add($"o.created_at < {Parameter(Value(to.ToUniversalTime()))}");
        }

        if (filter.Metadata is { } metadata)
        {
            var (keys, kinds, values) = MetadataCriteria(metadata);
            criteria.Add($"""
                NOT EXISTS (
                    SELECT 1 FROM unnest({Parameter(keys)}::text[], {Parameter(kinds)}::text[], {Parameter(values)}::text[]) AS f(key, kind, value)
                    WHERE NOT {MetadataValueEquals})
                """);
        }

        if (filter.Sku is { } sku)
        {
            criteria.Add($"EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.sku = {Parameter(Value(sku))} AND l.cancelled_quantity < l.quantity)");
        }

        command.CommandText = InsertChunks($"SELECT o.id FROM orders o WHERE {string.Join("\n  AND ", criteria)}");
        return command;
    }

    /// <summary>The metadata criteria as three arrays: keys, JSON kinds, values as text.</summary>
    private static (NpgsqlParameter Keys, NpgsqlParameter Kinds, NpgsqlParameter Values) MetadataCriteria(RawJson metadata)
    {
        using var document = JsonDocument.Parse(metadata.Text);
        var criteria = document.RootElement.EnumerateObject().Select(property => property.Value.ValueKind switch
        {
            JsonValueKind.String => (property.Name, Kind: "string", Value: property.Value.GetString()!),
            JsonValueKind.Number => (property.Name, Kind: "number", Value: property.Value.GetDecimal().ToString(CultureInfo.InvariantCulture)),
            _ => (property.Name, Kind: "boolean", Value: property.Value.ValueKind == JsonValueKind.True ? "true" : "false"),
        }).ToList();
        return (
            Value<string[]>([.. criteria.Select(c => c.Name)]),
            Value<string[]>([.. criteria.Select(c => c.Kind)]),
            Value<string[]>([.. criteria.Select(c => c.Value)]));
    }
}
