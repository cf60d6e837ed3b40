using System.Globalization;
using OrderCancel.Api.Http;

namespace OrderCancel.Api.Orders;

/// <summary>The keyset cursor of <c>GET /v1/orders</c>: the last order's creation instant and id, sealed (<see cref="Cursors"/>).</summary>
public readonly record struct OrderCursor(DateTimeOffset CreatedAt, long Id)
{
    private const string List = "orders";

    public string Encode(Cursors cursors, Guid partnerId) =>
        cursors.Seal(List, partnerId.ToString(), string.Create(CultureInfo.InvariantCulture, $"{CreatedAt.UtcTicks}.{Id}"));

    public static bool TryDecode(Cursors cursors, string partnerId, string? text, out OrderCursor cursor)
    {
        cursor = default;
        if (!cursors.TryOpen(List, partnerId, text, out var position))
        {
            return false;
        }

        var parts = position.Split('.');
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            && ticks is >= 0 and <= 3155378975999999999)
        {
            cursor = new OrderCursor(new DateTimeOffset(ticks, TimeSpan.Zero), id);
            return true;
        }

        return false;
    }
}
