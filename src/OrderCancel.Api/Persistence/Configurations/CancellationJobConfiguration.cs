using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Partners;

namespace OrderCancel.Api.Persistence.Configurations;

public sealed class CancellationJobConfiguration : IEntityTypeConfiguration<CancellationJob>
{
    public void Configure(EntityTypeBuilder<CancellationJob> builder)
    {
        builder.ToTable("cancellation_jobs");
        builder.HasKey(j => j.Id);
        builder.Property(j => j.Id).ValueGeneratedNever();
        builder.Property(j => j.Status).HasConversion<SnakeCaseEnumConverter<CancellationJobStatus>>().HasMaxLength(20);
        builder.Property(j => j.Request).HasColumnType("jsonb");
        builder.Property(j => j.Summary).HasColumnType("jsonb");
        builder.Property(j => j.CreatedBy).HasMaxLength(64);
        builder.HasOne<Partner>().WithMany().HasForeignKey(j => j.PartnerId).OnDelete(DeleteBehavior.Restrict);

        // A partner's jobs newest first (ids are UUIDv7, so by id); and the workers' look for jobs to start or run.
        builder.HasIndex(j => new { j.PartnerId, j.Id }).IsDescending(false, true);
        builder.HasIndex(j => new { j.Status, j.CreatedAt }).HasFilter("status IN ('queued', 'running')");
    }
}

public sealed class CancellationJobOrderConfiguration : IEntityTypeConfiguration<CancellationJobOrder>
{
    public void Configure(EntityTypeBuilder<CancellationJobOrder> builder)
    {
        builder.ToTable("cancellation_job_orders");
        builder.HasKey(o => new { o.JobId, o.OrderId });
        builder.Property(o => o.Outcome).HasConversion<SnakeCaseEnumConverter<JobOutcome>>().HasMaxLength(20);
        builder.Property(o => o.Code).HasMaxLength(64);
        builder.Property(o => o.Currency).HasMaxLength(3).IsFixedLength();

        // Each row is written twice: selected (pending), then its outcome. Room on every page for the second version, and
        // no index on what the outcome changes, make that an update in place (HOT: no index entry written). A batch
        // claims by the primary key from past what its sweep already claimed, so no index of pending rows is needed.
        builder.HasStorageParameter("fillfactor", 30);

        // No foreign key to the job: the rows are written only by the statement that starts the job, in its transaction,
        // and jobs are not deleted. Checking it cost a trigger call a row: 680 ms of the 1.4 s that selecting 100,000
        // orders took (bench/README.md, "Bulk jobs").
    }
}

public sealed class CancellationJobTallyConfiguration : IEntityTypeConfiguration<CancellationJobTally>
{
    public void Configure(EntityTypeBuilder<CancellationJobTally> builder)
    {
        builder.ToTable("cancellation_job_tallies");
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Id).UseIdentityAlwaysColumn();
        builder.Property(t => t.Outcome).HasConversion<SnakeCaseEnumConverter<JobOutcome>>().HasMaxLength(20);
        builder.Property(t => t.Code).HasMaxLength(64);
        builder.Property(t => t.Currency).HasMaxLength(3).IsFixedLength();
        builder.HasIndex(t => t.JobId);
        builder.HasOne<CancellationJob>().WithMany().HasForeignKey(t => t.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
