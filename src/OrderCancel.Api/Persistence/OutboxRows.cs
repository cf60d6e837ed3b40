using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace OrderCancel.Api.Persistence;

/// <summary>What one claim of the outbox asks for.</summary>
/// <param name="Limit">Free sending slots of the claiming instance: deliveries claimed at most.</param>
/// <param name="PerEndpoint">Attempts in flight to one endpoint at most, those already leased (by any instance) included.</param>
public sealed record OutboxClaim(DateTimeOffset Now, DateTimeOffset LeaseUntil, int Limit, int PerEndpoint);

/// <summary>
/// The dispatcher's claim (SPEC §9), by hand: EF Core has no form for a LATERAL pick with <c>SKIP LOCKED</c>.
/// </summary>
/// <remarks>
/// Fair by construction: each enabled endpoint with something due, under its in-flight cap, is locked (<c>SKIP LOCKED</c>:
/// two instances claiming at once take different endpoints, so the cap holds across instances), then gives its oldest due
/// deliveries up to the cap (a LATERAL pick on <c>(endpoint_id, next_attempt_at)</c>, never a scan of everyone's backlog).
/// Of those, the instance's free slots go round-robin: first to partners with the fewest attempts in flight, each
/// partner's endpoints in turn, then the oldest. A claimed delivery is leased: <c>next_attempt_at</c> and
/// <c>leased_until</c> move to the lease's end, so a crashed instance's attempt is due again once it runs out, and until
/// then it counts as in flight.
/// </remarks>
internal static class OutboxRows
{
    public static Task<List<Guid>> ClaimAsync(this DatabaseFacade database, OutboxClaim claim, CancellationToken cancellation) =>
        database.SqlQuery<Guid>($"""
            WITH in_flight AS (
                SELECT l.endpoint_id, l.partner_id, count(*) AS attempts FROM webhook_deliveries l
                WHERE l.leased_until > {claim.Now}
                GROUP BY l.endpoint_id, l.partner_id
            ), endpoints AS MATERIALIZED (
                SELECT w.id, w.partner_id, coalesce(i.attempts, 0) AS attempts
                FROM webhook_endpoints w
                LEFT JOIN in_flight i ON i.endpoint_id = w.id
                WHERE w.enabled
                  AND coalesce(i.attempts, 0) < {claim.PerEndpoint}
                  AND (SELECT d.next_attempt_at FROM webhook_deliveries d
                       WHERE d.endpoint_id = w.id AND d.status = 'pending'
                       ORDER BY d.endpoint_id, d.next_attempt_at LIMIT 1) <= {claim.Now}
                FOR NO KEY UPDATE OF w SKIP LOCKED
            ), picked AS (
                SELECT p.id, p.next_attempt_at, e.partner_id,
                       row_number() OVER (PARTITION BY e.id ORDER BY p.next_attempt_at) AS endpoint_turn
                FROM endpoints e
                CROSS JOIN LATERAL (
                    SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
                    WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= {claim.Now}
                    ORDER BY d.endpoint_id, d.next_attempt_at
                    LIMIT {claim.PerEndpoint} - e.attempts
                    FOR UPDATE SKIP LOCKED) p
            ), ranked AS (
                SELECT p.id, p.endpoint_turn, p.next_attempt_at,
                       coalesce((SELECT sum(i.attempts) FROM in_flight i WHERE i.partner_id = p.partner_id), 0)
                         + row_number() OVER (PARTITION BY p.partner_id ORDER BY p.endpoint_turn, p.next_attempt_at) AS partner_turn
                FROM picked p
            )
            UPDATE webhook_deliveries d SET next_attempt_at = {claim.LeaseUntil}, leased_until = {claim.LeaseUntil}
            FROM (SELECT id FROM ranked ORDER BY partner_turn, endpoint_turn, next_attempt_at LIMIT {claim.Limit}) c
            WHERE d.id = c.id
            RETURNING d.id AS "Value"
            """).ToListAsync(cancellation);
}
