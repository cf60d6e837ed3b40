using System.Data.Common;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Webhooks;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence;

public sealed class OrdersDbContext(DbContextOptions<OrdersDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    /// <summary>The Data Protection key ring, shared by every instance (it encrypts webhook signing secrets).</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<Order> Orders => Set<Order>();

    public DbSet<OrderEventRecord> Events => Set<OrderEventRecord>();

    public DbSet<Partner> Partners => Set<Partner>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();

    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public DbSet<CancellationJob> CancellationJobs => Set<CancellationJob>();

    public DbSet<CancellationJobOrder> CancellationJobOrders => Set<CancellationJobOrder>();

    public DbSet<CancellationJobChunk> CancellationJobChunks => Set<CancellationJobChunk>();

    public DbSet<CancellationJobTally> CancellationJobTallies => Set<CancellationJobTally>();

    private NpgsqlConnection Connection => (NpgsqlConnection)Database.GetDbConnection();

    private DbTransaction? Transaction => Database.CurrentTransaction?.GetDbTransaction();

    /// <summary>
    /// Saves the changes together with the event each tracked order recorded (SPEC §2: same transaction).
    /// Inserting an event also writes its webhook outbox rows, by a trigger (the baseline migration; schema.sql shows it).
    /// </summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        Events.AddRange(OrderEventRecord.TakeFrom(ChangeTracker.Entries<Order>().Select(entry => entry.Entity)));
        return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    /// <summary>Ids for the lines of a new order, from the sequence every line id comes from (unique across orders).</summary>
    public async Task<long[]> NewLineIdsAsync(int count, CancellationToken cancellation) =>
        [.. await Database.SqlQuery<long>($"SELECT nextval('order_line_ids') AS \"Value\" FROM generate_series(1, {count})").ToListAsync(cancellation)];

    /// <summary>The partner's order, or null. Not tracked: a read.</summary>
    public Task<Order?> FindOrderAsync(Guid partnerId, long id, CancellationToken cancellation) =>
        WithConnectionAsync(connection => OrderRows.FindAsync(connection, partnerId, id, cancellation), cancellation);

    private const string ActiveKeySql = $"""
        SELECT k.id, k.partner_id, {PartnerPolicyColumns.Select}
        FROM api_keys k JOIN partners p ON p.id = k.partner_id
        WHERE k.hash = $1 AND k.revoked_at IS NULL
        """;

    /// <summary>
    /// The key and partner of an API key that is not revoked, with the partner's settings (so a request has them
    /// without another round trip), or null. Every request asks, so the SQL is written by hand like the orders'
    /// (<see cref="OrderRows"/>).
    /// </summary>
    public Task<ActiveKey?> FindActiveKeyAsync(byte[] hash, CancellationToken cancellation) =>
        WithConnectionAsync(
            async connection =>
            {
                await using var command = new NpgsqlCommand(ActiveKeySql, connection)
                {
                    Parameters = { new NpgsqlParameter<byte[]> { TypedValue = hash } },
                };
                await PreparedStatements.PrepareAsync(command, cancellation);
                await using var reader = await command.ExecuteReaderAsync(cancellation);
                return await reader.ReadAsync(cancellation)
                    ? new ActiveKey(reader.GetGuid(0), reader.GetGuid(1), PartnerPolicyColumns.Read(reader, 2))
                    : null;
            },
            cancellation);

    /// <summary>A page of a job's results (see <see cref="CancellationJobRows.ResultsPageAsync"/>).</summary>
    public Task<List<JobResultResponse>> CancellationJobResultsAsync(
        Guid jobId, JobOutcome? outcome, long after, int limit, CancellationToken cancellation) =>
        WithConnectionAsync(connection => CancellationJobRows.ResultsPageAsync(connection, jobId, outcome, after, limit, cancellation), cancellation);

    /// <summary>A page of the partner's events feed (SPEC §12; see <see cref="EventRows"/>).</summary>
    public Task<List<FeedEvent>> EventFeedPageAsync(FeedQuery query, CancellationToken cancellation) =>
        WithConnectionAsync(connection => EventRows.PageAsync(connection, query, cancellation), cancellation);

    /// <summary>One of the partner's events, or null.</summary>
    public Task<FeedEvent?> FindEventAsync(Guid partnerId, Guid id, CancellationToken cancellation) =>
        WithConnectionAsync(connection => EventRows.FindAsync(connection, partnerId, id, cancellation), cancellation);

    /// <summary>Queues a webhook recovery's deliveries in the current transaction; answers how many.</summary>
    public Task<RecoveryResult> RecoverDeliveriesAsync(RecoveryQuery query, CancellationToken cancellation) =>
        EventRows.RecoverAsync(Connection, Transaction, query, cancellation);

    /// <summary>
    /// Loads an order of the partner and locks its row until the transaction ends, so mutations serialize.
    /// Save what its change did with <see cref="SaveOrdersAsync"/>; the order is not tracked.
    /// </summary>
    public Task<Order?> LockOrderAsync(Guid partnerId, long id, CancellationToken cancellation) =>
        OrderRows.LockAsync(Connection, Transaction, partnerId, id, cancellation);

    /// <summary>The scheduler's batch: up to <paramref name="limit"/> orders with a change due, locked (SKIP LOCKED).</summary>
    public Task<IReadOnlyList<Order>> LockDueOrdersAsync(DateTimeOffset asOf, Guid? partnerId, int limit, CancellationToken cancellation) =>
        OrderRows.LockDueAsync(Connection, Transaction, asOf, partnerId, limit, cancellation);

    /// <summary>Writes what the locked orders' changes did and the events they recorded, in the current transaction.</summary>
    public Task SaveOrdersAsync(IEnumerable<Order> orders, CancellationToken cancellation) =>
        OrderRows.SaveAsync(Connection, Transaction, orders, cancellation);

    /// <summary>Claims the oldest queued cancellation job (SKIP LOCKED) but those in <paramref name="skip"/>; null when none is queued.</summary>
    public Task<QueuedJob?> ClaimCancellationJobToStartAsync(Guid[] skip, CancellationToken cancellation) =>
        CancellationJobRows.ClaimToStartAsync(Connection, Transaction, skip, cancellation);

    /// <summary>Fixes the orders a claimed job covers and marks it running.</summary>
    public Task StartCancellationJobAsync(QueuedJob job, DateTimeOffset now, CancellationToken cancellation) =>
        CancellationJobRows.StartAsync(Connection, Transaction, job, now, cancellation);

    /// <summary>
    /// The next chunk of a running job's pending orders, claimed (SKIP LOCKED) and loaded, locked unless a dry run; null
    /// when the job is not running.
    /// </summary>
    internal Task<JobBatch?> ClaimCancellationJobBatchAsync(JobSweep sweep, CancellationToken cancellation) =>
        CancellationJobRows.ClaimBatchAsync(Connection, Transaction, sweep, cancellation);

    /// <summary>
    /// Writes what a job's batch did: the orders' changes and their events (none for a dry run), each order's outcome and
    /// the batch's tallies, and deletes its chunk (the one whose first id is <paramref name="chunk"/>), in one round trip
    /// of the current transaction.
    /// </summary>
    public Task SaveCancellationJobBatchAsync(
        IEnumerable<Order> changed, Guid jobId, long chunk, IReadOnlyList<JobOrderOutcome> outcomes, DateTimeOffset now, CancellationToken cancellation) =>
        OrderRows.SaveAsync(Connection, Transaction, changed, cancellation, CancellationJobRows.SaveOutcomes(jobId, chunk, outcomes, now));

    /// <summary>
    /// The job, tracked and locked until the transaction ends: the batches in flight have committed when this returns,
    /// and none starts until the transaction ends. Scoped to the partner when one is given; null when not found.
    /// </summary>
    /// <remarks>
    /// The job's lock first, then its row, always in this order, and the row <c>FOR NO KEY UPDATE</c>: a batch in flight
    /// (which holds the job's lock shared) takes a key-share lock on the row when it writes its tallies (their foreign
    /// key), and a plain <c>FOR UPDATE</c> taken first would wait for it while it waits for the row: a deadlock.
    /// </remarks>
    public async Task<CancellationJob?> LockCancellationJobAsync(Guid id, Guid? partnerId, CancellationToken cancellation)
    {
        // Only a job the caller may see: a stranger's id must not make it wait on someone else's batches.
        if (!await CancellationJobs.AnyAsync(j => j.Id == id && (partnerId == null || j.PartnerId == partnerId), cancellation))
        {
            return null;
        }

        await CancellationJobRows.LockJobExclusivelyAsync(Connection, Transaction, id, cancellation);
        return await CancellationJobs
            .FromSql($"SELECT * FROM cancellation_jobs WHERE id = {id} FOR NO KEY UPDATE")
            .SingleAsync(cancellation);
    }

    /// <summary>Runs <paramref name="read"/> on this context's connection, opened for it unless it already is.</summary>
    private async Task<T> WithConnectionAsync<T>(Func<NpgsqlConnection, Task<T>> read, CancellationToken cancellation)
    {
        await Database.OpenConnectionAsync(cancellation);
        try
        {
            return await read(Connection);
        }
        finally
        {
            await Database.CloseConnectionAsync();
        }
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasSequence<long>("order_line_ids");
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(OrdersDbContext).Assembly);
    }
}

/// <summary>An API key that may call: whose it is, and the partner's settings as the request found them.</summary>
public sealed record ActiveKey(Guid KeyId, Guid PartnerId, PartnerPolicy Policy);
