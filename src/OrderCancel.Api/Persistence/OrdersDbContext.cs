using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Webhooks;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence;

public sealed class OrdersDbContext(DbContextOptions<OrdersDbContext> options) : DbContext(options)
{
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
        foreach (var entry in ChangeTracker.Entries<Order>().ToList())
        {
            var order = entry.Entity;
            foreach (var recorded in order.PendingEvents)
            {
                Events.Add(new OrderEventRecord
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

        return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    /// <summary>Loads an order of the partner and locks its row until the transaction ends, so mutations serialize.</summary>
    /// <remarks>Two statements: EF cannot compose FOR UPDATE over an entity with complex properties.</remarks>
    public async Task<Order?> LockOrderAsync(Guid partnerId, long id, CancellationToken cancellation)
    {
        await Database.ExecuteSqlAsync($"SELECT 1 FROM orders WHERE id = {id} AND partner_id = {partnerId} FOR UPDATE", cancellation);
        return await Orders.FirstOrDefaultAsync(o => o.Id == id && o.PartnerId == partnerId, cancellation);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(OrdersDbContext).Assembly);
}
