using System.Text.Json.Serialization;
using FluentValidation;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.Settings;

/// <summary>
/// A JSON merge patch (RFC 7396) of the partner's settings: a property left out stays as it is, null sets it back to its
/// default (never expire, no window, <c>keep</c>).
/// </summary>
public sealed class SettingsPatch : IMergePatchBody
{
    private readonly string? _unpaidOrderTtl;
    private readonly string? _cancellationWindow;
    private readonly ShippingOnPartialCancel? _shippingOnPartialCancel;

    /// <summary>
    /// ISO 8601 duration from <c>PT1M</c> to <c>P90D</c> (days, hours 0-23, minutes and seconds 0-59, or weeks alone;
    /// no months or years; one form per span: <c>PT1H30M</c>, not <c>PT90M</c>): a new one-time order still unpaid that
    /// long after its creation is cancelled with reason <c>expired</c>. null: never. Applies to orders created from then on.
    /// </summary>
    /// <example>PT15M</example>
    [AcceptsNull]
    public string? UnpaidOrderTtl
    {
        get => _unpaidOrderTtl;
        init => _unpaidOrderTtl = Named(SettingsFields.UnpaidOrderTtl, value);
    }

    /// <summary>
    /// ISO 8601 duration from <c>PT1M</c> to <c>P365D</c>, written as <c>unpaid_order_ttl</c>: how long after its
    /// creation a partner may cancel an order (400 <c>cancellation_window_closed</c> after). null: no limit. Applies to
    /// every order at once.
    /// </summary>
    /// <example>PT1H</example>
    [AcceptsNull]
    public string? CancellationWindow
    {
        get => _cancellationWindow;
        init => _cancellationWindow = Named(SettingsFields.CancellationWindow, value);
    }

    /// <summary>
    /// What a partial cancel does to shipping when the request does not say (<c>waive_shipping</c>): <c>keep</c>
    /// (default), <c>release</c>, or <c>release_when_empty</c> (never on a partial cancel, whatever the request says).
    /// null: <c>keep</c>.
    /// </summary>
    /// <example>release</example>
    [AcceptsNull]
    public ShippingOnPartialCancel? ShippingOnPartialCancel
    {
        get => _shippingOnPartialCancel;
        init => _shippingOnPartialCancel = Named(SettingsFields.ShippingOnPartialCancel, value);
    }

    /// <summary>The properties the patch names, null ones included.</summary>
    [JsonIgnore]
    public HashSet<string> Given { get; } = [];

    private T Named<T>(string property, T value)
    {
        Given.Add(property);
        return value;
    }

    /// <summary>The settings after this patch.</summary>
    public PartnerPolicy ApplyTo(PartnerPolicy current) => new(
        Given.Contains(SettingsFields.UnpaidOrderTtl) ? Duration(UnpaidOrderTtl) : current.UnpaidOrderTtl,
        Given.Contains(SettingsFields.CancellationWindow) ? Duration(CancellationWindow) : current.CancellationWindow,
        Given.Contains(SettingsFields.ShippingOnPartialCancel)
            ? ShippingOnPartialCancel ?? PartnerPolicy.Default.ShippingOnPartialCancel
            : current.ShippingOnPartialCancel);

    private static TimeSpan? Duration(string? text) =>
        text is null ? null : IsoDuration.TryParse(text, out var duration) ? duration : throw new InvalidOperationException("An unvalidated duration.");
}

public static class SettingsFields
{
    public const string UnpaidOrderTtl = "unpaid_order_ttl";
    public const string CancellationWindow = "cancellation_window";
    public const string ShippingOnPartialCancel = "shipping_on_partial_cancel";
}

public sealed class SettingsPatchValidator : AbstractValidator<SettingsPatch>
{
    public static readonly TimeSpan MinWindow = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(365);

    public SettingsPatchValidator()
    {
        RuleFor(p => p.UnpaidOrderTtl).MustBeADuration("PT1M", PartnerPolicy.MinTtl, "P90D", PartnerPolicy.MaxTtl);
        RuleFor(p => p.CancellationWindow).MustBeADuration("PT1M", MinWindow, "P365D", MaxWindow);
    }
}

internal static class DurationRules
{
    public static IRuleBuilderOptions<T, string?> MustBeADuration<T>(
        this IRuleBuilder<T, string?> rule, string minText, TimeSpan min, string maxText, TimeSpan max) =>
        rule.Must(text => text is null || IsoDuration.TryParse(text, out _))
            .WithMessage("Must be an ISO 8601 duration in days, hours, minutes and whole seconds (PT15M, P1DT12H), or weeks alone "
                + "(P2W), or null. Months and years are refused: their length varies; use days (P30D).")
            .Must(text => text is null || IsoDuration.IsCanonical(text))
            .WithMessage((_, text) => IsoDuration.TryParse(text, out var duration)
                ? $"Must be written {IsoDuration.Format(duration)}: each duration has one form (hours 0-23, minutes and seconds 0-59, "
                    + "no zero parts or leading zeros, weeks only alone)."
                : "Must be an ISO 8601 duration.")
            .Must(text => text is null || !IsoDuration.TryParse(text, out var duration) || (duration >= min && duration <= max))
            .WithMessage($"Must be from {minText} to {maxText}, or null.");
}
