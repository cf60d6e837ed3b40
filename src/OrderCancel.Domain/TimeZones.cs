using System.Collections.Concurrent;

namespace OrderCancel.Domain;

/// <summary>IANA time zones and the days they define.</summary>
public static class TimeZones
{
    private static readonly ConcurrentDictionary<string, TimeZoneInfo> Cache = new(StringComparer.Ordinal);

    /// <summary>True for an IANA zone id this machine knows (Windows ids are refused).</summary>
    public static bool IsKnown(string? id) => id is not null && Lookup(id) is not null;

    public static TimeZoneInfo Find(string id) =>
        Lookup(id) ?? throw new ArgumentException($"'{id}' is not a known IANA time zone.", nameof(id));

    public static DateOnly Today(DateTimeOffset now, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);

    /// <summary>The first instant of <paramref name="date"/> in <paramref name="zone"/>, as UTC.</summary>
    public static DateTimeOffset StartOfDay(DateOnly date, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);

        // Where the clocks jump over midnight, the day starts at the first minute that exists.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        // Where midnight happens twice, the day starts at the first of them.
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    private static TimeZoneInfo? Lookup(string id)
    {
        if (Cache.TryGetValue(id, out var cached))
        {
            return cached;
        }

        // Only zones that exist are remembered, so unknown ids sent by clients cannot grow the cache.
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) || !zone.HasIanaId)
        {
            return null;
        }

        return Cache.GetOrAdd(id, zone);
    }
}
