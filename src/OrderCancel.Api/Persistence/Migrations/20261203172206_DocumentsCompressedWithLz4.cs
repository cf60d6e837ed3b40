using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <summary>
    /// Event data and idempotent answers' bodies compressed with lz4 rather than pglz (<see cref="Database.DocumentCompression"/>).
    /// Rows written before keep their pglz values, which PostgreSQL still reads; only new values are compressed with lz4.
    /// </summary>
    /// <remarks>
    /// By hand: the <c>AlterColumn</c> that Npgsql 10.0.3 generates for a compression change runs, but in a SQL script
    /// (<c>dotnet ef migrations script</c>) it comes out without its semicolon and the script fails.
    /// </remarks>
    public partial class DocumentsCompressedWithLz4 : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE order_events ALTER COLUMN data SET COMPRESSION lz4;
                ALTER TABLE idempotency_keys ALTER COLUMN body SET COMPRESSION lz4;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE order_events ALTER COLUMN data SET COMPRESSION default;
                ALTER TABLE idempotency_keys ALTER COLUMN body SET COMPRESSION default;
                """);
        }
    }
}
