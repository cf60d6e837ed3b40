namespace OrderCancel.Client;

/// <summary>How an <see cref="OrderCancelClient"/> retries; the defaults suit a partner's back end.</summary>
public sealed class OrderCancelClientOptions
{
    /// <summary>Tries after the first (default 4); 0 turns retrying off.</summary>
    public int MaxRetries { get; set; } = 4;

    /// <summary>How long one call may take with its retries (default 60 s): no retry starts that would wait past it.</summary>
    public TimeSpan RetryDeadline { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The first backoff (default 0.5 s); each later one doubles, at most <see cref="MaxBackoff"/>, with full jitter.</summary>
    public TimeSpan FirstBackoff { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest backoff between two tries when the answer says nothing (default 8 s).</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(8);
}
