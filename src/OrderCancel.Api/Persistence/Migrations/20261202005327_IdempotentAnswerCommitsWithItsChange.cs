using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class IdempotentAnswerCommitsWithItsChange : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A key without an answer was claimed by a request that never finished (the old two-step scheme):
            // nothing committed under it is tied to it, so it holds nothing.
            migrationBuilder.Sql("DELETE FROM idempotency_keys WHERE status IS NULL");
            migrationBuilder.AlterColumn<int>(
                name: "status",
                table: "idempotency_keys",
                type: "integer",
                nullable: false,
                oldClrType: typeof(int),
                oldType: "integer",
                oldNullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterColumn<int>(
                name: "status",
                table: "idempotency_keys",
                type: "integer",
                nullable: true,
                oldClrType: typeof(int),
                oldType: "integer");
        }
    }
}
