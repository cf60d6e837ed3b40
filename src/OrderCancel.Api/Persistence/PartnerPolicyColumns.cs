using Npgsql;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.Persistence;

/// <summary>
/// A partner's settings as the hand-written queries read them beside what they are after (an API key, a job's batch),
/// joined as <c>p</c>, so that no request or batch pays a round trip of its own for them.
/// </summary>
internal static class PartnerPolicyColumns
{
    public const string Select = "p.unpaid_order_ttl, p.cancellation_window, p.shipping_on_partial_cancel";

    /// <summary>The columns of <see cref="Select"/>, from <paramref name="at"/> on.</summary>
    public static PartnerPolicy Read(NpgsqlDataReader reader, int at) => new(
        reader.IsDBNull(at) ? null : reader.GetFieldValue<TimeSpan>(at),
        reader.IsDBNull(at + 1) ? null : reader.GetFieldValue<TimeSpan>(at + 1),
        Json.Parse<ShippingOnPartialCancel>(reader.GetString(at + 2)));
}
