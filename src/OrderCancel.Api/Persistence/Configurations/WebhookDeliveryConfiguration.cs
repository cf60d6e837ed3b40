using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Persistence.Configurations;

public sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> builder)
    {
        builder.ToTable("webhook_deliveries");
        builder.HasKey(d => d.Id);
        builder.Property(d => d.Id).ValueGeneratedNever();
        builder.Property(d => d.EventType).HasMaxLength(64);
        builder.Property(d => d.Status).HasConversion<SnakeCaseEnumConverter<DeliveryStatus>>().HasMaxLength(20);
        // The dispatcher's claim picks each endpoint's oldest due deliveries, and recovery counts an endpoint's pending ones.
        // (No index on next_attempt_at alone: the planner would walk it, filtering by endpoint, past another's backlog.)
        builder.HasIndex(d => new { d.EndpointId, d.NextAttemptAt }).HasFilter("status = 'pending'");
        // The claim's count of attempts in flight, per endpoint and partner: only the few leased rows.
        builder.HasIndex(d => new { d.EndpointId, d.LeasedUntil }).HasFilter("leased_until IS NOT NULL");
        // The retention purge's read: finished deliveries by age (Persistence/RetentionPurge.cs).
        builder.HasIndex(d => new { d.Status, d.CreatedAt }).HasFilter("status <> 'pending'");
        builder.HasIndex(d => new { d.EndpointId, d.CreatedAt });
        builder.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<OrderEventRecord>().WithMany().HasForeignKey(d => d.EventId).OnDelete(DeleteBehavior.Cascade);
    }
}
