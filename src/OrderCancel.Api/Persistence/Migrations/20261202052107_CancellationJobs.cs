using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class CancellationJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterColumn<long>(
                name: "order_id",
                table: "order_events",
                type: "bigint",
                nullable: true,
                oldClrType: typeof(long),
                oldType: "bigint");

            migrationBuilder.CreateTable(
                name: "cancellation_jobs",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    dry_run = table.Column<bool>(type: "boolean", nullable: false),
                    request = table.Column<string>(type: "jsonb", nullable: false),
                    order_ids = table.Column<long[]>(type: "bigint[]", nullable: true),
                    created_by = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    summary = table.Column<string>(type: "jsonb", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_jobs", x => x.id);
                    table.ForeignKey(
                        name: "fk_cancellation_jobs_partners_partner_id",
                        column: x => x.partner_id,
                        principalTable: "partners",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "cancellation_job_orders",
                columns: table => new
                {
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<long>(type: "bigint", nullable: false),
                    outcome = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    event_id = table.Column<Guid>(type: "uuid", nullable: true),
                    amount_released = table.Column<decimal>(type: "numeric", nullable: true),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: true),
                    processed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_job_orders", x => new { x.job_id, x.order_id });
                    table.ForeignKey(
                        name: "fk_cancellation_job_orders_cancellation_jobs_job_id",
                        column: x => x.job_id,
                        principalTable: "cancellation_jobs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_job_orders_pending",
                table: "cancellation_job_orders",
                columns: new[] { "job_id", "order_id" },
                filter: "outcome = 'pending'");

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_jobs_partner_id_id",
                table: "cancellation_jobs",
                columns: new[] { "partner_id", "id" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_jobs_status_created_at",
                table: "cancellation_jobs",
                columns: new[] { "status", "created_at" },
                filter: "status IN ('queued', 'running')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cancellation_job_orders");

            migrationBuilder.DropTable(
                name: "cancellation_jobs");

            migrationBuilder.AlterColumn<long>(
                name: "order_id",
                table: "order_events",
                type: "bigint",
                nullable: false,
                defaultValue: 0L,
                oldClrType: typeof(long),
                oldType: "bigint",
                oldNullable: true);
        }
    }
}
