using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobChunks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterTable(
                name: "cancellation_job_orders")
                .OldAnnotation("Npgsql:StorageParameter:fillfactor", 30);

            migrationBuilder.CreateTable(
                name: "cancellation_job_chunks",
                columns: table => new
                {
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    first_order_id = table.Column<long>(type: "bigint", nullable: false),
                    order_ids = table.Column<long[]>(type: "bigint[]", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_job_chunks", x => new { x.job_id, x.first_order_id });
                });

            // The orders of jobs in flight that no batch has processed yet: from a pending row each to chunks of 100.
            migrationBuilder.Sql("""
                INSERT INTO cancellation_job_chunks (job_id, first_order_id, order_ids)
                SELECT job_id, min(order_id), array_agg(order_id ORDER BY order_id)
                FROM (SELECT job_id, order_id, (row_number() OVER (PARTITION BY job_id ORDER BY order_id) - 1) / 100 AS chunk
                      FROM cancellation_job_orders WHERE outcome = 'pending') AS pending
                GROUP BY job_id, chunk;
                DELETE FROM cancellation_job_orders WHERE outcome = 'pending';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                INSERT INTO cancellation_job_orders (job_id, order_id, outcome)
                SELECT c.job_id, i.order_id, 'pending' FROM cancellation_job_chunks c, unnest(c.order_ids) AS i(order_id);
                """);

            migrationBuilder.DropTable(
                name: "cancellation_job_chunks");

            migrationBuilder.AlterTable(
                name: "cancellation_job_orders")
                .Annotation("Npgsql:StorageParameter:fillfactor", 30);
        }
    }
}
