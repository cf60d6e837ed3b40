using OrderCancel.Api.Partners;
using OrderCancel.Domain;

namespace OrderCancel.Api.Settings;

/// <summary>A partner's settings (SPEC §11). The <c>ETag</c> header carries <c>version</c>, for <c>If-Match</c> on a patch.</summary>
/// <param name="UnpaidOrderTtl">ISO 8601 duration after which a new, still unpaid one-time order is cancelled (reason <c>expired</c>); null: never.</param>
/// <param name="CancellationWindow">ISO 8601 duration after an order's creation during which a partner may cancel it; null: no limit.</param>
/// <param name="ShippingOnPartialCancel">What a partial cancel does to shipping when the request does not say.</param>
/// <param name="Version">Increases on every change; the ETag.</param>
/// <param name="UpdatedAt">When they last changed; null while they are the defaults they started with.</param>
public sealed record SettingsResponse(
    string? UnpaidOrderTtl,
    string? CancellationWindow,
    ShippingOnPartialCancel ShippingOnPartialCancel,
    int Version,
    DateTimeOffset? UpdatedAt)
{
    public static SettingsResponse From(Partner partner) => new(
        partner.UnpaidOrderTtl is { } ttl ? IsoDuration.Format(ttl) : null,
        partner.CancellationWindow is { } window ? IsoDuration.Format(window) : null,
        partner.ShippingOnPartialCancel,
        partner.SettingsVersion,
        partner.SettingsUpdatedAt);
}

/// <summary>
/// The <c>data</c> of a <c>partner.settings_changed</c> event, as the event list and webhooks carry it: the settings
/// after the change, and before it.
/// </summary>
public sealed record SettingsChangedData(Guid PartnerId, SettingsResponse Settings, SettingsResponse Previous);
