using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <summary>
    /// The events feed (SPEC §12): each event remembers the transaction that wrote it, so the feed can show only what
    /// every transaction older than the oldest one still running has committed, in transaction order, and a cursor
    /// never skips an event that commits late. Recovery looks deliveries up by endpoint and event.
    /// </summary>
    public partial class EventsFeed : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A constant default first (no table rewrite: the events written so far sort first, by sequence), then the
            // writing transaction's id for every event from now on. Not mapped by EF Core: only the feed's SQL reads it.
            migrationBuilder.Sql("""
                ALTER TABLE order_events ADD COLUMN tx_id xid8 NOT NULL DEFAULT '0';
                ALTER TABLE order_events ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();
                CREATE INDEX ix_order_events_partner_id_tx_id_sequence ON order_events (partner_id, tx_id, sequence);
                CREATE INDEX ix_webhook_deliveries_endpoint_id_event_id ON webhook_deliveries (endpoint_id, event_id);
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP INDEX ix_webhook_deliveries_endpoint_id_event_id;
                DROP INDEX ix_order_events_partner_id_tx_id_sequence;
                ALTER TABLE order_events DROP COLUMN tx_id;
                """);
        }
    }
}
