using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace OrderCancel.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Baseline : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateSequence(
                name: "order_line_ids");

            migrationBuilder.CreateSequence(
                name: "orders_hilo_seq",
                incrementBy: 10);

            migrationBuilder.CreateTable(
                name: "cancellation_job_chunks",
                columns: table => new
                {
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    first_order_id = table.Column<long>(type: "bigint", nullable: false),
                    order_ids = table.Column<long[]>(type: "bigint[]", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_job_chunks", x => new { x.job_id, x.first_order_id });
                });

            migrationBuilder.CreateTable(
                name: "cancellation_job_orders",
                columns: table => new
                {
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<long>(type: "bigint", nullable: false),
                    outcome = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    event_id = table.Column<Guid>(type: "uuid", nullable: true),
                    amount_released = table.Column<decimal>(type: "numeric", nullable: true),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: true),
                    processed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_job_orders", x => new { x.job_id, x.order_id });
                });

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

            migrationBuilder.CreateTable(
                name: "idempotency_keys",
                columns: table => new
                {
                    scope = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    key = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    fingerprint = table.Column<byte[]>(type: "bytea", nullable: false),
                    status = table.Column<int>(type: "integer", nullable: false),
                    content_type = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    location = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    e_tag = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    body = table.Column<byte[]>(type: "bytea", nullable: true)
                        .Annotation("Npgsql:Compression:", "lz4"),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_idempotency_keys", x => new { x.scope, x.key });
                });

            migrationBuilder.CreateTable(
                name: "partners",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    unpaid_order_ttl = table.Column<TimeSpan>(type: "interval", nullable: true),
                    cancellation_window = table.Column<TimeSpan>(type: "interval", nullable: true),
                    shipping_on_partial_cancel = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    settings_version = table.Column<int>(type: "integer", nullable: false),
                    settings_updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_partners", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    revoked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_keys", x => x.id);
                    table.ForeignKey(
                        name: "fk_api_keys_partners_partner_id",
                        column: x => x.partner_id,
                        principalTable: "partners",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "cancellation_jobs",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    dry_run = table.Column<bool>(type: "boolean", nullable: false),
                    request = table.Column<string>(type: "jsonb", nullable: false),
                    order_ids = table.Column<long[]>(type: "bigint[]", nullable: true),
                    created_by = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    matched = table.Column<int>(type: "integer", nullable: false),
                    summary = table.Column<string>(type: "jsonb", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancellation_jobs", x => x.id);
                    table.ForeignKey(
                        name: "fk_cancellation_jobs_partners_partner_id",
                        column: x => x.partner_id,
                        principalTable: "partners",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "orders",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    reference = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    channel = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: false),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: false),
                    time_zone = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    billing_period = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    shipping_cost = table.Column<decimal>(type: "numeric", nullable: false),
                    shipping_waived = table.Column<bool>(type: "boolean", nullable: false),
                    amount_paid = table.Column<decimal>(type: "numeric", nullable: false),
                    metadata = table.Column<string>(type: "json", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    next_change_due_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    cancelled_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    reactivated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    customer_email = table.Column<string>(type: "character varying(254)", maxLength: 254, nullable: false),
                    customer_first_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    customer_last_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    customer_phone = table.Column<string>(type: "character varying(30)", maxLength: 30, nullable: true),
                    customer_ref = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    cancellations = table.Column<string>(type: "jsonb", nullable: false),
                    payment = table.Column<string>(type: "jsonb", nullable: true),
                    scheduled_cancellation = table.Column<string>(type: "jsonb", nullable: true),
                    scheduled_reactivation = table.Column<string>(type: "jsonb", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_orders", x => x.id);
                    table.ForeignKey(
                        name: "fk_orders_partners_partner_id",
                        column: x => x.partner_id,
                        principalTable: "partners",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "webhook_endpoints",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    url = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    events = table.Column<string[]>(type: "text[]", nullable: false),
                    enabled = table.Column<bool>(type: "boolean", nullable: false),
                    protected_secret = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    protected_previous_secret = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    previous_secret_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_webhook_endpoints", x => x.id);
                    table.ForeignKey(
                        name: "fk_webhook_endpoints_partners_partner_id",
                        column: x => x.partner_id,
                        principalTable: "partners",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

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

            migrationBuilder.CreateTable(
                name: "order_events",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    sequence = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<long>(type: "bigint", nullable: true),
                    type = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    occurred_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    actor = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    data = table.Column<string>(type: "json", nullable: false)
                        .Annotation("Npgsql:Compression:", "lz4")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_order_events", x => x.id);
                    table.ForeignKey(
                        name: "fk_order_events_orders_order_id",
                        column: x => x.order_id,
                        principalTable: "orders",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "order_lines",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false),
                    sku = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    quantity = table.Column<int>(type: "integer", nullable: false),
                    cancelled_quantity = table.Column<int>(type: "integer", nullable: false),
                    unit_price = table.Column<decimal>(type: "numeric", nullable: false),
                    discount = table.Column<decimal>(type: "numeric", nullable: false),
                    tax_rate = table.Column<decimal>(type: "numeric", nullable: false),
                    metadata = table.Column<string>(type: "json", nullable: false),
                    order_id = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_order_lines", x => x.id);
                    table.ForeignKey(
                        name: "fk_order_lines_orders_order_id",
                        column: x => x.order_id,
                        principalTable: "orders",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "webhook_deliveries",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    endpoint_id = table.Column<Guid>(type: "uuid", nullable: false),
                    partner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    event_type = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    last_response_code = table.Column<int>(type: "integer", nullable: true),
                    last_attempt_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    next_attempt_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    leased_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    first_attempt_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_webhook_deliveries", x => x.id);
                    table.ForeignKey(
                        name: "fk_webhook_deliveries_order_events_event_id",
                        column: x => x.event_id,
                        principalTable: "order_events",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_webhook_deliveries_webhook_endpoints_endpoint_id",
                        column: x => x.endpoint_id,
                        principalTable: "webhook_endpoints",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_hash",
                table: "api_keys",
                column: "hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_partner_id",
                table: "api_keys",
                column: "partner_id");

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_job_tallies_job_id",
                table: "cancellation_job_tallies",
                column: "job_id");

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_jobs_partner_id_id",
                table: "cancellation_jobs",
                columns: new[] { "partner_id", "id" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ix_cancellation_jobs_status_created_at",
                table: "cancellation_jobs",
                columns: new[] { "status", "created_at" },
                filter: "status IN ('queued', 'running')");

            migrationBuilder.CreateIndex(
                name: "ix_idempotency_keys_expires_at",
                table: "idempotency_keys",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_order_events_order_id_sequence",
                table: "order_events",
                columns: new[] { "order_id", "sequence" });

            migrationBuilder.CreateIndex(
                name: "ix_order_lines_order_id",
                table: "order_lines",
                column: "order_id");

            migrationBuilder.CreateIndex(
                name: "ix_order_lines_sku",
                table: "order_lines",
                column: "sku");

            migrationBuilder.CreateIndex(
                name: "ix_orders_next_change_due_at",
                table: "orders",
                column: "next_change_due_at",
                filter: "next_change_due_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_orders_partner_id_created_at_id",
                table: "orders",
                columns: new[] { "partner_id", "created_at", "id" },
                descending: new[] { false, true, true });

            migrationBuilder.CreateIndex(
                name: "ix_orders_partner_id_kind_created_at_id",
                table: "orders",
                columns: new[] { "partner_id", "kind", "created_at", "id" },
                descending: new[] { false, false, true, true });

            migrationBuilder.CreateIndex(
                name: "ix_orders_partner_id_status_created_at_id",
                table: "orders",
                columns: new[] { "partner_id", "status", "created_at", "id" },
                descending: new[] { false, false, true, true });

            migrationBuilder.CreateIndex(
                name: "ix_orders_partner_id_status_kind_created_at_id",
                table: "orders",
                columns: new[] { "partner_id", "status", "kind", "created_at", "id" },
                descending: new[] { false, false, false, true, true });

            migrationBuilder.CreateIndex(
                name: "ux_orders_partner_id_reference",
                table: "orders",
                columns: new[] { "partner_id", "reference" },
                unique: true,
                filter: "reference IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_created_at",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_leased_until",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "leased_until" },
                filter: "leased_until IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_next_attempt_at",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "next_attempt_at" },
                filter: "status = 'pending'");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_event_id",
                table: "webhook_deliveries",
                column: "event_id");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_status_created_at",
                table: "webhook_deliveries",
                columns: new[] { "status", "created_at" },
                filter: "status <> 'pending'");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_endpoints_partner_id",
                table: "webhook_endpoints",
                column: "partner_id");

            // What EF Core's model cannot say; schema.sql shows all of it.
            migrationBuilder.Sql(HandWrittenSchema);
        }

        /// <summary>
        /// The parts of the schema written by hand:
        /// - the transactional outbox: a trigger writes an event's webhook deliveries in the statement that inserts the
        ///   event, once a statement over the inserted rows (a batch of events is one INSERT), so no code path can forget them;
        /// - <c>order_events.tx_id</c>, the writing transaction's id, by which the events feed orders events so that a
        ///   poller never misses one that commits late (only the feed's SQL reads it, so the model does not map it);
        /// - indexes EF Core cannot express (on a complex type's column, on the unmapped <c>tx_id</c>) or that only
        ///   hand-written queries use;
        /// - column defaults for inserts that leave those columns out (the schema has always had them).
        /// </summary>
        private const string HandWrittenSchema = """
            CREATE FUNCTION enqueue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
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

            ALTER TABLE order_events ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
            CREATE INDEX ix_order_events_partner_id_tx_id_sequence ON order_events (partner_id, tx_id, sequence);
            CREATE INDEX ix_order_events_partner_id_type_occurred_at ON order_events (partner_id, type, occurred_at);
            CREATE INDEX ix_orders_partner_id_customer_ref_created_at_id ON orders (partner_id, customer_ref, created_at DESC, id DESC);
            CREATE INDEX ix_webhook_deliveries_endpoint_id_event_id ON webhook_deliveries (endpoint_id, event_id);

            ALTER TABLE cancellation_jobs ALTER COLUMN matched SET DEFAULT 0;
            ALTER TABLE partners ALTER COLUMN settings_version SET DEFAULT 1;
            ALTER TABLE partners ALTER COLUMN shipping_on_partial_cancel SET DEFAULT 'keep';
            """;

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "cancellation_job_chunks");

            migrationBuilder.DropTable(
                name: "cancellation_job_orders");

            migrationBuilder.DropTable(
                name: "cancellation_job_tallies");

            migrationBuilder.DropTable(
                name: "data_protection_keys");

            migrationBuilder.DropTable(
                name: "idempotency_keys");

            migrationBuilder.DropTable(
                name: "order_lines");

            migrationBuilder.DropTable(
                name: "webhook_deliveries");

            migrationBuilder.DropTable(
                name: "cancellation_jobs");

            migrationBuilder.DropTable(
                name: "order_events");

            migrationBuilder.DropTable(
                name: "webhook_endpoints");

            migrationBuilder.DropTable(
                name: "orders");

            migrationBuilder.DropTable(
                name: "partners");

            migrationBuilder.DropSequence(
                name: "order_line_ids");

            migrationBuilder.DropSequence(
                name: "orders_hilo_seq");

            migrationBuilder.Sql("DROP FUNCTION enqueue_webhook_deliveries();");
        }
    }
}
