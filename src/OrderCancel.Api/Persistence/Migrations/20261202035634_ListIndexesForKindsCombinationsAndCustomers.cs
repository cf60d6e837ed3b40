using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class ListIndexesForKindsCombinationsAndCustomers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_orders_partner_id_kind_created_at_id",
                table: "orders",
                columns: new[] { "partner_id", "kind", "created_at", "id" },
                descending: new[] { false, false, true, true });

            migrationBuilder.CreateIndex(
                name: "ix_orders_partner_id_status_kind_created_at_id",
                table: "orders",
                columns: new[] { "partner_id", "status", "kind", "created_at", "id" },
                descending: new[] { false, false, false, true, true });

            // EF Core cannot index a complex type's column (the customer), so this one is SQL; the model does not know it.
            migrationBuilder.Sql(
                "CREATE INDEX ix_orders_partner_id_customer_ref_created_at_id ON orders (partner_id, customer_ref, created_at DESC, id DESC);");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX ix_orders_partner_id_customer_ref_created_at_id;");

            migrationBuilder.DropIndex(
                name: "ix_orders_partner_id_kind_created_at_id",
                table: "orders");

            migrationBuilder.DropIndex(
                name: "ix_orders_partner_id_status_kind_created_at_id",
                table: "orders");
        }
    }
}
