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
        builder.HasIndex(d => d.NextAttemptAt).HasFilter("status = 'pending'");
        // The retention purge's read: finished deliveries by age (Persistence/RetentionPurge.cs).
        builder.HasIndex(d => new { d.Status, d.CreatedAt }).HasFilter("status <> 'pending'");
        builder.HasIndex(d => new { d.EndpointId, d.CreatedAt });
        builder.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<OrderEventRecord>().WithMany().HasForeignKey(d => d.EventId).OnDelete(DeleteBehavior.Cascade);
    }
}
