namespace OrderCancel.Api.Persistence;

/// <summary>The first answer to a request sent with an <c>Idempotency-Key</c>, kept 24 h per caller and key (SPEC §8).</summary>
public sealed class IdempotencyRecord
{
    /// <summary>Whose key it is: the partner id, or <c>admin</c>.</summary>
    public required string Scope { get; init; }

    public required string Key { get; init; }

    /// <summary>SHA-256 of method, path and body bytes: the same key for another request is refused.</summary>
    public required byte[] Fingerprint { get; init; }

    /// <summary>Null while the first request is still running.</summary>
    public int? Status { get; set; }

    public string? ContentType { get; set; }

    public string? Location { get; set; }

    public string? ETag { get; set; }

    public byte[]? Body { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset ExpiresAt { get; init; }
}
