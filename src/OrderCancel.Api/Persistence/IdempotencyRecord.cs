namespace OrderCancel.Api.Persistence;

/// <summary>The first answer to a request sent with an <c>Idempotency-Key</c>, kept 24 h per caller and key (SPEC §8).</summary>
public sealed class IdempotencyRecord
{
    /// <summary>Whose key it is: the partner id, or <c>admin</c>.</summary>
    public required string Scope { get; init; }

    public required string Key { get; init; }

    /// <summary>SHA-256 of method, path and body bytes: the same key for another request is refused.</summary>
    public required byte[] Fingerprint { get; init; }

    /// <summary>The status of the kept answer; it is written in the transaction of the change it answers.</summary>
    public int Status { get; init; }

    public string? ContentType { get; init; }

    public string? Location { get; init; }

    public string? ETag { get; init; }

    public byte[]? Body { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset ExpiresAt { get; init; }
}
