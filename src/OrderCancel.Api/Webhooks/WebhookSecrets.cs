using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Webhooks;

/// <summary>
/// Signing secrets at rest: encrypted with ASP.NET Core Data Protection, whose key ring lives in PostgreSQL
/// (<c>data_protection_keys</c>) so that every instance reads what another wrote. A dump of
/// <c>webhook_endpoints</c> alone holds no secret.
/// </summary>
public sealed class WebhookSecrets(IDataProtectionProvider protection)
{
    /// <summary>How long a rotated-out secret still signs deliveries, beside the new one.</summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromHours(24);

    private readonly IDataProtector _protector = protection.CreateProtector("OrderCancel.Webhooks.SigningSecret.v1");

    public string Protect(string secret) => _protector.Protect(secret);

    /// <summary>The secret a stored value holds; a value from before encryption (<c>whsec_…</c>) is taken as it is.</summary>
    public string Unprotect(string stored) =>
        stored.StartsWith(WebhookSignature.SecretPrefix, StringComparison.Ordinal) ? stored : _protector.Unprotect(stored);

    /// <summary>The secrets a delivery is signed with now: the current one, and the previous one during its overlap.</summary>
    public IReadOnlyList<string> SigningSecrets(string currentStored, string? previousStored, DateTimeOffset? previousUntil, DateTimeOffset now) =>
        previousStored is not null && previousUntil > now
            ? [Unprotect(previousStored), Unprotect(currentStored)]
            : [Unprotect(currentStored)];

    /// <summary>Encrypts the secrets stored in plain text before this version; start-up runs it, and it is idempotent.</summary>
    public async Task<int> ProtectPlaintextAsync(OrdersDbContext db, CancellationToken cancellation)
    {
        var plain = await db.WebhookEndpoints
            .Where(w => w.ProtectedSecret.StartsWith(WebhookSignature.SecretPrefix))
            .ToListAsync(cancellation);
        foreach (var endpoint in plain)
        {
            endpoint.ProtectedSecret = Protect(endpoint.ProtectedSecret);
        }

        return await db.SaveChangesAsync(cancellation);
    }
}
