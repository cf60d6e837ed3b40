using System.Security.Cryptography;
using OrderCancel.Domain;

namespace OrderCancel.Api.Partners;

/// <summary>A partner back end; every order, key and webhook endpoint belongs to one. Its settings (SPEC §11) live on it.</summary>
public sealed class Partner
{
    public Guid Id { get; init; }

    public required string Name { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public TimeSpan? UnpaidOrderTtl { get; set; }

    public TimeSpan? CancellationWindow { get; set; }

    public ShippingOnPartialCancel ShippingOnPartialCancel { get; set; }

    /// <summary>Increases on every change of the settings: their ETag.</summary>
    public int SettingsVersion { get; set; } = 1;

    /// <summary>When the settings last changed; null while they are the defaults they started with.</summary>
    public DateTimeOffset? SettingsUpdatedAt { get; set; }

    public PartnerPolicy Policy => new(UnpaidOrderTtl, CancellationWindow, ShippingOnPartialCancel);
}

/// <summary>An API key, stored only as the SHA-256 of its secret.</summary>
public sealed class ApiKey
{
    public Guid Id { get; init; }

    public Guid PartnerId { get; init; }

    public required byte[] Hash { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>A new key: the secret to show once, and the row that remembers only its hash.</summary>
    public static (ApiKey Key, string Secret) Issue(Guid partnerId, DateTimeOffset now)
    {
        var secret = "oc_" + Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        return (FromSecret(partnerId, secret, now), secret);
    }

    public static ApiKey FromSecret(Guid partnerId, string secret, DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(now),
        PartnerId = partnerId,
        Hash = HashOf(secret),
        CreatedAt = now,
    };

    // Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    public static byte[] HashOf(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
