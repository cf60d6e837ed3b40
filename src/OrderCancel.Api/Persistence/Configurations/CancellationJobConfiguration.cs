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

        // Written once, when the order is processed; no foreign key to the job: jobs are not deleted, and checking it
        // cost a trigger call a row (bench/HISTORY.md, "Bulk jobs").
    }
}

public sealed class CancellationJobChunkConfiguration : IEntityTypeConfiguration<CancellationJobChunk>
{
    public void Configure(EntityTypeBuilder<CancellationJobChunk> builder)
    {
        builder.ToTable("cancellation_job_chunks");
        builder.HasKey(c => new { c.JobId, c.FirstOrderId });

        // No foreign key to the job either: written only by the statement that starts the job, in its transaction.
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
