using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class CancellationJobTallies : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "matched",
                table: "cancellation_jobs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.CreateTable(
                name: "cancellation_job_tallies",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    outcome = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: true),
                    orders = table.Column<int>(type: "integer", nullable: false),
                    amount_released = table.Column<decimal>(type: "numeric", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_job_tallies", x => x.id);
                    table.ForeignKey(
                        name: "fk_cancellation_job_tallies_cancellation_jobs_job_id",
                        column: x => x.job_id,
                        principalTable: "cancellation_jobs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_job_tallies_job_id",
                table: "cancellation_job_tallies",
                column: "job_id");

            // Jobs made before tallies: their counts, from their rows.
            migrationBuilder.Sql("""
                UPDATE cancellation_jobs j SET matched = (SELECT count(*) FROM cancellation_job_orders o WHERE o.job_id = j.id);
                INSERT INTO cancellation_job_tallies (job_id, outcome, code, currency, orders, amount_released)
                SELECT job_id, outcome, code, CASE WHEN outcome = 'refused' THEN NULL ELSE currency END, count(*), coalesce(sum(amount_released), 0)
                FROM cancellation_job_orders WHERE outcome <> 'pending'
                GROUP BY 1, 2, 3, 4;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cancellation_job_tallies");

            migrationBuilder.DropColumn(
                name: "matched",
                table: "cancellation_jobs");
        }
    }
}
