using Microsoft.AspNetCore.DataProtection;

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

    public string Unprotect(string stored) => _protector.Unprotect(stored);

    /// <summary>The secrets a delivery is signed with now: the current one, and the previous one during its overlap.</summary>
    public IReadOnlyList<string> SigningSecrets(string currentStored, string? previousStored, DateTimeOffset? previousUntil, DateTimeOffset now) =>
        previousStored is not null && previousUntil > now
            ? [Unprotect(previousStored), Unprotect(currentStored)]
            : [Unprotect(currentStored)];
}
