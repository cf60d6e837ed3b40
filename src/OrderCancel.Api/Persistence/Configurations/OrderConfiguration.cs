using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OrderCancel.Api.Partners;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence.Configurations;

public sealed class OrderConfiguration : IEntityTypeConfiguration<Order>
{
    public void Configure(EntityTypeBuilder<Order> builder)
    {
        builder.ToTable("orders");
        builder.HasKey(o => o.Id);

        // Ids are taken from the sequence in blocks, so an order's id is known before the insert
        // and its order.created event can be written in the same SaveChanges.
        builder.Property(o => o.Id).UseHiLo("orders_hilo_seq");
        builder.Property(o => o.Kind).HasConversion<SnakeCaseEnumConverter<OrderKind>>().HasMaxLength(20);
        builder.Property(o => o.Status).HasConversion<SnakeCaseEnumConverter<OrderStatus>>().HasMaxLength(20);
        builder.Property(o => o.BillingPeriod).HasConversion<SnakeCaseEnumConverter<BillingPeriod>>().HasMaxLength(20);
        builder.Property(o => o.Reference).HasMaxLength(100);
        builder.Property(o => o.Channel).HasMaxLength(50);
        builder.Property(o => o.CurrencyCode).HasColumnName("currency").HasMaxLength(3).IsFixedLength();
        builder.Property(o => o.TimeZone).HasMaxLength(64);
        builder.Property(o => o.Metadata).HasColumnType("json");
        builder.Property(o => o.Version).IsConcurrencyToken();

        builder.ComplexProperty(o => o.Customer, customer =>
        {
            customer.Property(c => c.Ref).HasColumnName("customer_ref").HasMaxLength(100);
            customer.Property(c => c.Email).HasColumnName("customer_email").HasMaxLength(254);
            customer.Property(c => c.FirstName).HasColumnName("customer_first_name").HasMaxLength(100);
            customer.Property(c => c.LastName).HasColumnName("customer_last_name").HasMaxLength(100);
            customer.Property(c => c.Phone).HasColumnName("customer_phone").HasMaxLength(30);
        });

        builder.ComplexProperty(o => o.Payment, payment => payment.ToJson("payment"));

        builder.ComplexProperty(o => o.ScheduledCancellation, scheduled =>
        {
            scheduled.ToJson("scheduled_cancellation");
            scheduled.Property(s => s.Reason).HasConversion<SnakeCaseEnumConverter<CancellationReason>>();
            scheduled.ComplexCollection(s => s.Items, item =>
                item.Property(i => i.Reason).HasConversion<SnakeCaseEnumConverter<CancellationReason>>());
        });

        builder.ComplexProperty(o => o.ScheduledReactivation, scheduled => scheduled.ToJson("scheduled_reactivation"));

        // The aggregate exposes its history read-only; EF maps the list behind it.
        builder.Ignore(o => o.Cancellations);
        builder.ComplexCollection<List<Cancellation>, Cancellation>("_cancellations", cancellation =>
        {
            cancellation.ToJson("cancellations");
            cancellation.Property(c => c.Type).HasConversion<SnakeCaseEnumConverter<CancellationType>>();
            cancellation.Property(c => c.Reason).HasConversion<SnakeCaseEnumConverter<CancellationReason>>();
            cancellation.Property(c => c.PreviousStatus).HasConversion<SnakeCaseEnumConverter<OrderStatus>>();
            cancellation.ComplexCollection(c => c.Items, item =>
                item.Property(i => i.Reason).HasConversion<SnakeCaseEnumConverter<CancellationReason>>());
        });

        builder.OwnsMany(o => o.Lines, line =>
        {
            line.ToTable("order_lines");
            line.WithOwner().HasForeignKey(OrderLineKey.OrderId);
            // Line ids are unique across orders (from the order_line_ids sequence): a line id names one line, of one order.
            line.HasKey(l => l.Id);
            line.Property(l => l.Id).ValueGeneratedNever();
            line.HasIndex(OrderLineKey.OrderId);
            // A recall's job selects the orders carrying a SKU (SPEC §10): without it, every line of every partner was read
            // (bench/HISTORY.md, "Bulk jobs").
            line.HasIndex(l => l.Sku);
            line.Property(l => l.Sku).HasMaxLength(100);
            line.Property(l => l.Name).HasMaxLength(200);
            line.Property(l => l.Metadata).HasColumnType("json");
        });
        builder.Navigation(o => o.Lines).AutoInclude();

        builder.Ignore(o => o.PendingEvents);
        builder.HasOne<Partner>().WithMany().HasForeignKey(o => o.PartnerId).OnDelete(DeleteBehavior.Restrict);

        builder.HasIndex(o => new { o.PartnerId, o.Reference })
            .IsUnique()
            .HasFilter("reference IS NOT NULL")
            .HasDatabaseName(UniqueReferenceIndex);
        builder.HasIndex(o => new { o.PartnerId, o.CreatedAt, o.Id }).IsDescending(false, true, true);
        builder.HasIndex(o => new { o.PartnerId, o.Status, o.CreatedAt, o.Id }).IsDescending(false, false, true, true);

        // The list's other filters, each a range read in the list's order so a page costs the same at any size
        // (bench/HISTORY.md, "Cost at scale": the plans that chose them). The customer_ref one is created in SQL by
        // migration ListIndexesForKindsCombinationsAndCustomers: EF Core cannot index a complex type's column.
        builder.HasIndex(o => new { o.PartnerId, o.Kind, o.CreatedAt, o.Id }).IsDescending(false, false, true, true);
        builder.HasIndex(o => new { o.PartnerId, o.Status, o.Kind, o.CreatedAt, o.Id }).IsDescending(false, false, false, true, true);
        builder.HasIndex(o => o.NextChangeDueAt).HasFilter("next_change_due_at IS NOT NULL");
    }

    public const string UniqueReferenceIndex = "ux_orders_partner_id_reference";
}

/// <summary>The shadow property that ties a line to its order (column <c>order_id</c>).</summary>
public static class OrderLineKey
{
    public const string OrderId = "OrderId";
}
