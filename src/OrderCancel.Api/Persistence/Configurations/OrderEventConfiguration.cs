using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace OrderCancel.Api.Persistence.Configurations;

public sealed class OrderEventConfiguration : IEntityTypeConfiguration<OrderEventRecord>
{
    public void Configure(EntityTypeBuilder<OrderEventRecord> builder)
    {
        builder.ToTable("order_events");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).ValueGeneratedNever();
        builder.Property(e => e.Sequence).UseIdentityAlwaysColumn();
        builder.Property(e => e.Type).HasMaxLength(64);
        builder.Property(e => e.Actor).HasMaxLength(64);

        // json, not jsonb: the payload is kept byte for byte as webhooks will carry it.
        builder.Property(e => e.Data).HasColumnType("json").UseCompressionMethod(Database.DocumentCompression);
        builder.HasIndex(e => new { e.OrderId, e.Sequence });
        builder.HasOne<Domain.Order>().WithMany().HasForeignKey(e => e.OrderId).OnDelete(DeleteBehavior.Cascade);
    }
}
