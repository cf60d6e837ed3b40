using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OrderCancel.Api.Partners;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence.Configurations;

public sealed class PartnerConfiguration : IEntityTypeConfiguration<Partner>
{
    public void Configure(EntityTypeBuilder<Partner> builder)
    {
        builder.ToTable("partners");
        builder.HasKey(p => p.Id);
        builder.Property(p => p.Id).ValueGeneratedNever();
        builder.Property(p => p.Name).HasMaxLength(200);
        builder.Property(p => p.ShippingOnPartialCancel).HasConversion<SnakeCaseEnumConverter<ShippingOnPartialCancel>>().HasMaxLength(20);
        builder.Ignore(p => p.Policy);
    }
}
