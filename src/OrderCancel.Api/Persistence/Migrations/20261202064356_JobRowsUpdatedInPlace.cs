using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobRowsUpdatedInPlace : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_cancellation_job_orders_cancellation_jobs_job_id",
                table: "cancellation_job_orders");

            migrationBuilder.DropIndex(
                name: "ix_cancellation_job_orders_pending",
                table: "cancellation_job_orders");

            migrationBuilder.AlterTable(
                name: "cancellation_job_orders")
                .Annotation("Npgsql:StorageParameter:fillfactor", 30);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterTable(
                name: "cancellation_job_orders")
                .OldAnnotation("Npgsql:StorageParameter:fillfactor", 30);

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_job_orders_pending",
                table: "cancellation_job_orders",
                columns: new[] { "job_id", "order_id" },
                filter: "outcome = 'pending'");

            migrationBuilder.AddForeignKey(
                name: "fk_cancellation_job_orders_cancellation_jobs_job_id",
                table: "cancellation_job_orders",
                column: "job_id",
                principalTable: "cancellation_jobs",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }
    }
}
