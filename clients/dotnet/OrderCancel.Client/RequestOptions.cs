namespace OrderCancel.Client;

/// <summary>What one call may carry besides its body; every field is optional.</summary>
public sealed record RequestOptions
{
    /// <summary>
    /// The call's <c>Idempotency-Key</c> (POST and DELETE). Unset, the client makes one per call and every retry of that
    /// call reuses it; set it to a key of your own to make a call safe to repeat across restarts of your process.
    /// </summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>The version the change expects (<c>If-Match</c>): the call is refused with 412 <c>version_mismatch</c> if the order (or the settings) moved on.</summary>
    public long? IfMatch { get; init; }
}
