using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class StatementLevelOutboxTrigger : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The outbox trigger runs once a statement over the inserted events (a transition table), not once
            // a row: the scheduler inserts a batch's events in one statement (bench/README.md).
            migrationBuilder.Sql("""
                DROP TRIGGER order_events_enqueue_webhooks ON order_events;

                CREATE OR REPLACE FUNCTION enqueue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO webhook_deliveries (id, endpoint_id, partner_id, event_id, event_type, status, attempts, next_attempt_at, created_at)
                    SELECT gen_random_uuid(), w.id, e.partner_id, e.id, e.type, 'pending', 0, e.occurred_at, e.occurred_at
                    FROM inserted_events e
                    JOIN webhook_endpoints w ON w.partner_id = e.partner_id
                    WHERE w.enabled
                      AND (e.type = ANY (w.events) OR '*' = ANY (w.events));
                    RETURN NULL;
                END
                $$;

                CREATE TRIGGER order_events_enqueue_webhooks
                    AFTER INSERT ON order_events
                    REFERENCING NEW TABLE AS inserted_events
                    FOR EACH STATEMENT EXECUTE FUNCTION enqueue_webhook_deliveries();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER order_events_enqueue_webhooks ON order_events;

                CREATE OR REPLACE FUNCTION enqueue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO webhook_deliveries (id, endpoint_id, partner_id, event_id, event_type, status, attempts, next_attempt_at, created_at)
                    SELECT gen_random_uuid(), w.id, NEW.partner_id, NEW.id, NEW.type, 'pending', 0, NEW.occurred_at, NEW.occurred_at
                    FROM webhook_endpoints w
                    WHERE w.partner_id = NEW.partner_id
                      AND w.enabled
                      AND (NEW.type = ANY (w.events) OR '*' = ANY (w.events));
                    RETURN NULL;
                END
                $$;

                CREATE TRIGGER order_events_enqueue_webhooks
                    AFTER INSERT ON order_events
                    FOR EACH ROW EXECUTE FUNCTION enqueue_webhook_deliveries();
                """);
        }
    }
}
