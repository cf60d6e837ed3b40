using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class LineIdsUniqueAcrossOrders : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "pk_order_lines",
                table: "order_lines");

            migrationBuilder.CreateSequence(
                name: "order_line_ids");

            migrationBuilder.AlterColumn<long>(
                name: "id",
                table: "order_lines",
                type: "bigint",
                nullable: false,
                oldClrType: typeof(int),
                oldType: "integer");

            // Every existing line gets a new id from the sequence, and the orders' own records that name lines (their
            // cancellations and scheduled cancellation) are rewritten to the new ids. Events keep the ids they were written with.
            migrationBuilder.Sql(Renumber("""
                SELECT order_id, id AS old_id, nextval('order_line_ids') AS new_id
                FROM (SELECT order_id, id FROM order_lines ORDER BY order_id, id) AS l
                """));

            migrationBuilder.AddPrimaryKey(
                name: "pk_order_lines",
                table: "order_lines",
                column: "id");

            migrationBuilder.CreateIndex(
                name: "ix_order_lines_order_id",
                table: "order_lines",
                column: "order_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "pk_order_lines",
                table: "order_lines");

            migrationBuilder.DropIndex(
                name: "ix_order_lines_order_id",
                table: "order_lines");

            migrationBuilder.DropSequence(
                name: "order_line_ids");

            migrationBuilder.Sql(Renumber("""
                SELECT order_id, id AS old_id, row_number() OVER (PARTITION BY order_id ORDER BY id) AS new_id FROM order_lines
                """));

            migrationBuilder.AlterColumn<int>(
                name: "id",
                table: "order_lines",
                type: "integer",
                nullable: false,
                oldClrType: typeof(long),
                oldType: "bigint");

            migrationBuilder.AddPrimaryKey(
                name: "pk_order_lines",
                table: "order_lines",
                columns: new[] { "order_id", "id" });
        }

        /// <summary>Gives lines the ids <paramref name="mapping"/> says (order_id, old_id, new_id), in the lines and in the JSON that names them.</summary>
        private static string Renumber(string mapping) => $$"""
            CREATE TEMP TABLE line_renumbering AS {{mapping}};

            UPDATE order_lines AS l SET id = r.new_id
            FROM line_renumbering AS r WHERE l.order_id = r.order_id AND l.id = r.old_id;

            UPDATE orders AS o SET cancellations = (
                SELECT jsonb_agg({{RenumberedItems("c", "o.id")}} ORDER BY position)
                FROM jsonb_array_elements(o.cancellations) WITH ORDINALITY AS entries(c, position))
            WHERE jsonb_typeof(o.cancellations) = 'array' AND jsonb_array_length(o.cancellations) > 0;

            UPDATE orders AS o SET scheduled_cancellation = {{RenumberedItems("o.scheduled_cancellation", "o.id")}}
            WHERE o.scheduled_cancellation IS NOT NULL;

            DROP TABLE line_renumbering;
            """;

        /// <summary>The JSON object <paramref name="entry"/> with each <c>Items[].LineId</c> replaced by the line's new id.</summary>
        private static string RenumberedItems(string entry, string orderId) => $$"""
            CASE WHEN jsonb_typeof({{entry}}->'Items') = 'array' THEN jsonb_set({{entry}}, '{Items}', (
                SELECT coalesce(jsonb_agg(
                    CASE WHEN r.new_id IS NULL THEN item ELSE jsonb_set(item, '{LineId}', to_jsonb(r.new_id)) END
                    ORDER BY n), '[]'::jsonb)
                FROM jsonb_array_elements({{entry}}->'Items') WITH ORDINALITY AS items(item, n)
                LEFT JOIN line_renumbering AS r ON r.order_id = {{orderId}} AND r.old_id = (item->>'LineId')::bigint))
            ELSE {{entry}} END
            """;
    }
}
