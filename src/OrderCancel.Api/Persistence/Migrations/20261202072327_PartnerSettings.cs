using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class PartnerSettings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<TimeSpan>(
                name: "cancellation_window",
                table: "partners",
                type: "interval",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "settings_updated_at",
                table: "partners",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "settings_version",
                table: "partners",
                type: "integer",
                nullable: false,
                defaultValue: 1);

            migrationBuilder.AddColumn<string>(
                name: "shipping_on_partial_cancel",
                table: "partners",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "keep");

            migrationBuilder.AddColumn<TimeSpan>(
                name: "unpaid_order_ttl",
                table: "partners",
                type: "interval",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "expires_at",
                table: "orders",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "cancellation_window",
                table: "partners");

            migrationBuilder.DropColumn(
                name: "settings_updated_at",
                table: "partners");

            migrationBuilder.DropColumn(
                name: "settings_version",
                table: "partners");

            migrationBuilder.DropColumn(
                name: "shipping_on_partial_cancel",
                table: "partners");

            migrationBuilder.DropColumn(
                name: "unpaid_order_ttl",
                table: "partners");

            migrationBuilder.DropColumn(
                name: "expires_at",
                table: "orders");
        }
    }
}
