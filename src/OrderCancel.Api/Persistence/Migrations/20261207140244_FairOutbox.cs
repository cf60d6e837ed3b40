using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class FairOutbox : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_next_attempt_at",
                table: "webhook_deliveries");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "leased_until",
                table: "webhook_deliveries",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_leased_until",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "leased_until" },
                filter: "leased_until IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_next_attempt_at",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "next_attempt_at" },
                filter: "status = 'pending'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_endpoint_id_leased_until",
                table: "webhook_deliveries");

            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_endpoint_id_next_attempt_at",
                table: "webhook_deliveries");

            migrationBuilder.DropColumn(
                name: "leased_until",
                table: "webhook_deliveries");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_next_attempt_at",
                table: "webhook_deliveries",
                column: "next_attempt_at",
                filter: "status = 'pending'");
        }
    }
}
