using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Settings;

namespace OrderCancel.Api.Partners;

public sealed class CreatePartnerRequest
{
    /// <example>Acme Insurance</example>
    [Required]
    public string? Name { get; init; }
}

public sealed record IssueKeyRequest : IOptionalBody;

public sealed record IssuedKeyResponse(Guid Id, string Key);

public sealed record PartnerResponse(Guid Id, string Name, IssuedKeyResponse ApiKey);

public sealed class CreatePartnerValidator : AbstractValidator<CreatePartnerRequest>
{
    public CreatePartnerValidator() =>
        RuleFor(r => r.Name).NotEmpty().WithMessage("Is required.").MaximumLength(200);
}

/// <summary>Admin routes (SPEC §7): partners and their keys, guarded by the admin key.</summary>
public static class AdminEndpoints
{
    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/v1/admin", "Admin", Callers.AdminPolicy)
            .DescribesPath("id", "The partner's id, as POST /v1/admin/partners answered it.")
            .DescribesPath("keyId", "The key's id (not the key itself), as the answer that issued it gave it.");

        group.MapPost("/partners", CreatePartner)
            .WithName("CreatePartner")
            .WithSummary("Create a partner with its first API key")
            .WithDescription("Admin key only. The key is shown only in this response; store it.")
            .WithRequestExamples(new RequestExample("partner", "A new partner", JsonNode.Parse("""{ "name": "Acme Insurance" }""")!));
        group.MapPost("/partners/{id:guid}/keys", IssueKey)
            .WithName("IssueKey")
            .WithSummary("Issue another API key for a partner")
            .WithDescription("Admin key only. The key is shown only in this response; the partner's other keys keep working.")
            .WithRequestExamples(new RequestExample("key", "No options: an empty body or {} will do", new JsonObject()))
            .Refuses("not_found");
        group.MapDelete("/keys/{keyId:guid}", RevokeKey)
            .WithName("RevokeKey")
            .WithSummary("Revoke an API key; it answers 401 from then on")
            .WithDescription("Admin key only. Answers 204.")
            .Refuses("not_found");
        return group.MapPartnerSettings();
    }

    public static async Task<Created<PartnerResponse>> CreatePartner(
        JsonBody<CreatePartnerRequest> body, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        var now = clock.GetUtcNow();
        var partner = new Partner { Id = Guid.CreateVersion7(now), Name = body.Value.Name!.Trim(), CreatedAt = now };
        var (key, secret) = ApiKey.Issue(partner.Id, now);
        db.Partners.Add(partner);
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellation);
        return TypedResults.Created(
            $"/v1/admin/partners/{partner.Id}",
            new PartnerResponse(partner.Id, partner.Name, new IssuedKeyResponse(key.Id, secret)));
    }

    public static async Task<Results<Created<IssuedKeyResponse>, ProblemHttpResult>> IssueKey(
        Guid id, JsonBody<IssueKeyRequest> body, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation)
    {
        if (!await db.Partners.AnyAsync(p => p.Id == id, cancellation))
        {
            return Problems.Result("not_found", $"Partner {id} not found.");
        }

        var (key, secret) = ApiKey.Issue(id, clock.GetUtcNow());
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellation);
        return TypedResults.Created($"/v1/admin/keys/{key.Id}", new IssuedKeyResponse(key.Id, secret));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        Guid keyId, OrdersDbContext db, KeyLookupLimiter keys, TimeProvider clock, CancellationToken cancellation)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId, cancellation);
        if (key is null)
        {
            return Problems.Result("not_found", $"Key {keyId} not found.");
        }

        key.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync(cancellation);
        keys.Forget(); // This instance refuses the key from its next request; the others within a second.
        return TypedResults.NoContent();
    }
}
