using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class WebhookSecretsEncryptedAtRest : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The column keeps its values: start-up encrypts every secret still in plain text (WebhookSecrets).
            migrationBuilder.RenameColumn(
                name: "secret",
                table: "webhook_endpoints",
                newName: "protected_secret");

            migrationBuilder.AlterColumn<string>(
                name: "protected_secret",
                table: "webhook_endpoints",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(100)",
                oldMaxLength: 100);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "previous_secret_until",
                table: "webhook_endpoints",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "protected_previous_secret",
                table: "webhook_endpoints",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "data_protection_keys",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    friendly_name = table.Column<string>(type: "text", nullable: true),
                    xml = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_data_protection_keys", x => x.id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "data_protection_keys");

            migrationBuilder.DropColumn(
                name: "previous_secret_until",
                table: "webhook_endpoints");

            migrationBuilder.DropColumn(
                name: "protected_previous_secret",
                table: "webhook_endpoints");

            // SQL cannot decrypt: the column goes back under its old name holding the encrypted values, so endpoints
            // registered or rotated after this migration need a new secret after going back.
            migrationBuilder.RenameColumn(
                name: "protected_secret",
                table: "webhook_endpoints",
                newName: "secret");
        }
    }
}
