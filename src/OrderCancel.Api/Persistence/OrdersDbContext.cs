using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Webhooks;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence;

public sealed class OrdersDbContext(DbContextOptions<OrdersDbContext> options) : DbContext(options)
{
    /// <summary>Compiled once: every mutation loads its order this way, so it skips EF's query cache lookup.</summary>
    private static readonly Func<OrdersDbContext, Guid, long, Task<Order?>> FindTrackedOrder =
        EF.CompileAsyncQuery((OrdersDbContext db, Guid partnerId, long id) => db.Orders.FirstOrDefault(o => o.Id == id && o.PartnerId == partnerId));

    public DbSet<Order> Orders => Set<Order>();

    public DbSet<OrderEventRecord> Events => Set<OrderEventRecord>();

    public DbSet<Partner> Partners => Set<Partner>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();

    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    /// <summary>
    /// Saves the changes together with the event each order change recorded (SPEC §2: same transaction).
    /// Inserting an event also writes its webhook outbox rows, by a trigger (see the WebhookOutbox migration).
    /// </summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        Events.AddRange(TakePendingEvents());
        return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    /// <summary>
    /// Writes the events the tracked orders recorded with one INSERT, for a caller that changes hundreds of orders in
    /// one transaction (the scheduler); SaveChanges would send one statement an event. Call it inside that transaction.
    /// </summary>
    public async Task InsertPendingEventsAsync(CancellationToken cancellation)
    {
        var records = TakePendingEvents();
        if (records.Count == 0)
        {
            return;
        }

        Guid[] ids = [.. records.Select(r => r.Id)], partners = [.. records.Select(r => r.PartnerId)];
        long[] orders = [.. records.Select(r => r.OrderId)];
        string[] types = [.. records.Select(r => r.Type)], actors = [.. records.Select(r => r.Actor)], data = [.. records.Select(r => r.Data)];
        DateTimeOffset[] occurred = [.. records.Select(r => r.OccurredAt)];
        await Database.ExecuteSqlAsync($"""
            INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
            SELECT * FROM unnest({ids}, {partners}, {orders}, {types}, {occurred}, {actors}, {data}::json[])
            """, cancellation);
    }

    /// <summary>One record per event the tracked orders recorded since they were loaded; the orders forget them.</summary>
    private List<OrderEventRecord> TakePendingEvents()
    {
        var records = new List<OrderEventRecord>();
        foreach (var entry in ChangeTracker.Entries<Order>())
        {
            var order = entry.Entity;
            foreach (var recorded in order.PendingEvents)
            {
                records.Add(new OrderEventRecord
                {
                    Id = recorded.Id,
                    PartnerId = order.PartnerId,
                    OrderId = order.Id,
                    Type = recorded.Name,
                    OccurredAt = recorded.OccurredAt,
                    Actor = recorded.Actor,
                    Data = EventData.Serialize(order, recorded),
                });
            }

            order.ClearPendingEvents();
        }

        return records;
    }

    /// <summary>Loads an order of the partner and locks its row until the transaction ends, so mutations serialize.</summary>
    /// <remarks>
    /// Two statements on purpose. Locking inside the loading query (FOR UPDATE OF the order, joined to its lines)
    /// is one round trip fewer but wrong under READ COMMITTED: a request that waited for the lock sees the
    /// order row as committed by the one before it, but the lines as they were when its query started, so
    /// racing partial cancels all pass (the fifty-cancels test shows it). Locking first, then reading,
    /// gives a fresh snapshot of everything.
    /// </remarks>
    public async Task<Order?> LockOrderAsync(Guid partnerId, long id, CancellationToken cancellation)
    {
        await Database.ExecuteSqlAsync($"SELECT 1 FROM orders WHERE id = {id} AND partner_id = {partnerId} FOR UPDATE", cancellation);
        return await FindTrackedOrder(this, partnerId, id);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(OrdersDbContext).Assembly);
}
