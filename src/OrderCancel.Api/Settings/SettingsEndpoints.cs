using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Settings;

/// <summary>
/// <c>/v1/settings</c> (the calling partner's) and <c>/v1/admin/partners/{id}/settings</c> (any partner's, admin key):
/// read, and change by JSON merge patch under <c>If-Match</c>. Every change writes <c>partner.settings_changed</c>.
/// </summary>
public static class SettingsEndpoints
{
    public const string Changed = "partner.settings_changed";

    public static readonly IReadOnlyList<string> Events = [Changed];

    public static RouteGroupBuilder MapSettings(this IEndpointRouteBuilder app)
    {
        var partner = app.MapApiGroup("/v1/settings", "Settings", Callers.PartnerPolicy);
        partner.MapGet("/", Get)
            .WithName("GetSettings")
            .WithSummary("Your settings: unpaid order expiry, cancellation window, shipping on partial cancels")
            .WithDescription("The defaults keep SPEC §3 exactly. The ETag is the settings' version, for If-Match on a patch.")
            .Reads(OperationHeaders.ETag);
        partner.MapPatch("/", Patch)
            .WithName("PatchSettings")
            .WithSummary("Change your settings (JSON merge patch)")
            .WithDescription(PatchDescription)
            .Refuses("version_mismatch")
            .Reads(OperationHeaders.IfMatch | OperationHeaders.ETag)
            .WithRequestExamples(SettingsExamples.Patch);
        return partner;
    }

    /// <summary>The admin's routes to any partner's settings, in the admin group (<see cref="AdminEndpoints"/>).</summary>
    public static RouteGroupBuilder MapPartnerSettings(this RouteGroupBuilder admin)
    {
        admin.MapGet("/partners/{id:guid}/settings", GetAny)
            .WithName("GetPartnerSettings")
            .WithSummary("A partner's settings")
            .WithDescription("Admin key only.")
            .Refuses("not_found")
            .Reads(OperationHeaders.ETag);
        admin.MapPatch("/partners/{id:guid}/settings", PatchAny)
            .WithName("PatchPartnerSettings")
            .WithSummary("Change a partner's settings (JSON merge patch)")
            .WithDescription("Admin key only; the event's actor is admin. " + PatchDescription)
            .Refuses("not_found", "version_mismatch")
            .Reads(OperationHeaders.IfMatch | OperationHeaders.ETag)
            .WithRequestExamples(SettingsExamples.Patch);
        return admin;
    }

    private const string PatchDescription =
        "application/json or application/merge-patch+json. A property left out stays as it is; null sets it back to its "
        + "default. With If-Match the patch applies only to that version (412 version_mismatch otherwise). A change writes "
        + "partner.settings_changed (webhook-deliverable) and bumps the version; a patch that changes nothing writes nothing.";

    public static async Task<Ok<SettingsResponse>> Get(HttpContext http, OrdersDbContext db, CancellationToken cancellation)
    {
        var partner = await db.Partners.AsNoTracking().SingleAsync(p => p.Id == http.User.PartnerId(), cancellation);
        return Answer(http, partner);
    }

    public static Task<Results<Ok<SettingsResponse>, ProblemHttpResult>> Patch(
        JsonBody<SettingsPatch> body, HttpContext http, OrdersDbContext db, KeyLookupLimiter keys, TimeProvider clock, CancellationToken cancellation) =>
        ChangeAsync(http.User.PartnerId(), body.Value, http, db, keys, clock, cancellation);

    public static async Task<Results<Ok<SettingsResponse>, ProblemHttpResult>> GetAny(
        Guid id, HttpContext http, OrdersDbContext db, CancellationToken cancellation) =>
        await db.Partners.AsNoTracking().SingleOrDefaultAsync(p => p.Id == id, cancellation) is { } partner
            ? Answer(http, partner)
            : PartnerNotFound(id);

    public static Task<Results<Ok<SettingsResponse>, ProblemHttpResult>> PatchAny(
        Guid id, JsonBody<SettingsPatch> body, HttpContext http, OrdersDbContext db, KeyLookupLimiter keys, TimeProvider clock, CancellationToken cancellation) =>
        ChangeAsync(id, body.Value, http, db, keys, clock, cancellation);

    /// <summary>Locks the partner's row, checks If-Match, applies the patch and writes its event, in one transaction.</summary>
    private static async Task<Results<Ok<SettingsResponse>, ProblemHttpResult>> ChangeAsync(
        Guid partnerId, SettingsPatch patch, HttpContext http, OrdersDbContext db, KeyLookupLimiter keys, TimeProvider clock, CancellationToken cancellation)
    {
        await using var transaction = await RequestTransaction.BeginOrJoinAsync(db.Database, cancellation);
        var partner = await db.Partners.FromSql($"SELECT * FROM partners WHERE id = {partnerId} FOR UPDATE").SingleOrDefaultAsync(cancellation);
        if (partner is null)
        {
            return PartnerNotFound(partnerId);
        }

        if (!http.Request.IfMatchAllows(partner.SettingsVersion))
        {
            return Problems.Result(
                "version_mismatch",
                $"The settings are at version {partner.SettingsVersion}; send If-Match: \"{partner.SettingsVersion}\" after reading them again.");
        }

        var before = partner.Policy;
        var after = patch.ApplyTo(before);
        if (after == before)
        {
            return Answer(http, partner);
        }

        var previous = SettingsResponse.From(partner);
        var now = clock.GetUtcNow();
        partner.UnpaidOrderTtl = after.UnpaidOrderTtl;
        partner.CancellationWindow = after.CancellationWindow;
        partner.ShippingOnPartialCancel = after.ShippingOnPartialCancel;
        partner.SettingsVersion++;
        partner.SettingsUpdatedAt = now;
        db.Events.Add(new OrderEventRecord
        {
            Id = Guid.CreateVersion7(now),
            PartnerId = partner.Id,
            OrderId = null,
            Type = Changed,
            OccurredAt = now,
            Actor = http.User.Actor(),
            Data = JsonSerializer.Serialize(new SettingsChangedData(partner.Id, SettingsResponse.From(partner), previous), Json.Options),
        });
        await db.SaveChangesAsync(cancellation);
        await transaction.CommitAsync(cancellation);
        keys.Forget(); // The settings come with the partner's keys: this instance follows them from its next request.
        return Answer(http, partner);
    }

    private static Ok<SettingsResponse> Answer(HttpContext http, Partner partner)
    {
        http.Response.SetETag(partner.SettingsVersion);
        return TypedResults.Ok(SettingsResponse.From(partner));
    }

    private static ProblemHttpResult PartnerNotFound(Guid id) => Problems.Result("not_found", $"Partner {id} not found.");
}

/// <summary>The examples Swagger UI offers for a settings patch.</summary>
internal static class SettingsExamples
{
    public static readonly RequestExample[] Patch =
    [
        new("ticket_shop", "Unpaid orders expire after 15 minutes", JsonNode.Parse("""{ "unpaid_order_ttl": "PT15M" }""")!),
        new(
            "marketplace",
            "Cancel within an hour; partial cancels release shipping",
            JsonNode.Parse("""{ "cancellation_window": "PT1H", "shipping_on_partial_cancel": "release" }""")!),
        new(
            "defaults",
            "Back to the defaults",
            JsonNode.Parse("""{ "unpaid_order_ttl": null, "cancellation_window": null, "shipping_on_partial_cancel": null }""")!),
    ];
}

/// <summary>A <c>partner.settings_changed</c> delivery, as the OpenAPI document describes it.</summary>
public sealed record SettingsWebhookMessage(
    Guid Id,
    [property: SchemaRef(OpenApiSchemas.EventType)] string Type,
    DateTimeOffset Timestamp,
    SettingsChangedData Data);
