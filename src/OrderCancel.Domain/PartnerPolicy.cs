namespace OrderCancel.Domain;

/// <summary>
/// A partner's settings that change the state rules (SPEC §11). <see cref="Default"/> is SPEC §3 exactly: orders never
/// expire, cancelling has no deadline, and a partial cancel keeps shipping unless the request waives it.
/// </summary>
/// <param name="UnpaidOrderTtl">How long a new one-time order may stay unpaid before the scheduler cancels it; null: never.</param>
/// <param name="CancellationWindow">How long after its creation a partner may cancel an order; null: no limit.</param>
public sealed record PartnerPolicy(TimeSpan? UnpaidOrderTtl, TimeSpan? CancellationWindow, ShippingOnPartialCancel ShippingOnPartialCancel)
{
    public static readonly TimeSpan MinTtl = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(90);

    public static readonly PartnerPolicy Default = new(null, null, ShippingOnPartialCancel.Keep);

    /// <summary>
    /// Whether a partial cancel releases shipping, given what the request said (null: nothing). Under
    /// <see cref="ShippingOnPartialCancel.ReleaseWhenEmpty"/> it never does, whatever the request says.
    /// </summary>
    public bool ReleasesShippingOnPartial(bool? requested) => ShippingOnPartialCancel switch
    {
        ShippingOnPartialCancel.Keep => requested ?? false,
        ShippingOnPartialCancel.Release => requested ?? true,
        ShippingOnPartialCancel.ReleaseWhenEmpty => false,
        _ => throw new InvalidOperationException($"No shipping rule {ShippingOnPartialCancel}."),
    };

    /// <summary>When a partner cancel of an order created at <paramref name="createdAt"/> stops being allowed; null: never.</summary>
    public DateTimeOffset? CancellationClosesAt(DateTimeOffset createdAt) => createdAt + CancellationWindow;
}
