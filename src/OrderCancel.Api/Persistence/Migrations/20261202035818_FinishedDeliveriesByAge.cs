using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class FinishedDeliveriesByAge : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_status_created_at",
                table: "webhook_deliveries",
                columns: new[] { "status", "created_at" },
                filter: "status <> 'pending'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_status_created_at",
                table: "webhook_deliveries");
        }
    }
}
