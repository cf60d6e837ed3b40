using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace OrderCancel.Api.Http;

/// <summary>The one set of JSON rules for requests, responses, stored events and webhooks (SPEC §1).</summary>
public static class Json
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions());

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.TypeInfoResolver ??= new DefaultJsonTypeInfoResolver();
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.Converters.Add(new UtcInstantConverter());
        options.Converters.Add(new RawJsonConverter());
        return options;
    }

    /// <summary>The wire name of an enum value: <c>OneTime</c> is <c>one_time</c>.</summary>
    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => EnumNames<TEnum>.ByValue[value];

    public static bool TryParse<TEnum>(string? name, out TEnum value)
        where TEnum : struct, Enum => EnumNames<TEnum>.ByName.TryGetValue(name ?? "", out value);

    /// <summary>The enum value of a stored name; a name that is not one is corrupt data, not bad input.</summary>
    public static TEnum Parse<TEnum>(string name)
        where TEnum : struct, Enum =>
        TryParse<TEnum>(name, out var value) ? value : throw new InvalidOperationException($"'{name}' is not a {typeof(TEnum).Name}.");

    public static IEnumerable<string> Names<TEnum>()
        where TEnum : struct, Enum => EnumNames<TEnum>.ByName.Keys;

    public static IReadOnlyList<string> Names(Type enumType) =>
        [.. Enum.GetNames(enumType).Select(JsonNamingPolicy.SnakeCaseLower.ConvertName)];

    private static class EnumNames<TEnum>
        where TEnum : struct, Enum
    {
        public static readonly FrozenDictionary<TEnum, string> ByValue =
            Enum.GetValues<TEnum>().ToFrozenDictionary(v => v, v => JsonNamingPolicy.SnakeCaseLower.ConvertName(v.ToString()));

        public static readonly FrozenDictionary<string, TEnum> ByName =
            ByValue.ToFrozenDictionary(pair => pair.Value, pair => pair.Key, StringComparer.Ordinal);
    }
}

/// <summary>Instants as requests give them: ISO 8601 with an explicit offset, never a time that depends on the server's zone.</summary>
public static partial class Instants
{
    /// <summary>True when the text has a time and ends in <c>Z</c> or an offset such as <c>+02:00</c> (a date alone has neither).</summary>
    /// <summary>An ISO 8601 instant with an offset, as UTC; null when absent or not one (a query string's value).</summary>
    public static DateTimeOffset? Parse(string? text) =>
        HasOffset(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant)
            ? instant.ToUniversalTime()
            : null;

    public static bool HasOffset(string? text) => text is not null && text.Contains('T', StringComparison.OrdinalIgnoreCase) && OffsetAtEnd().IsMatch(text);

    [GeneratedRegex(@"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})\z", RegexOptions.CultureInvariant)]
    private static partial Regex OffsetAtEnd();
}

/// <summary>
/// Writes instants as ISO 8601 UTC with <c>Z</c>, to the microsecond PostgreSQL keeps. Reads any ISO 8601 offset
/// (<c>+14:00</c> is the same instant as the <c>Z</c> form) and converts it to UTC, which is all PostgreSQL stores.
/// </summary>
public sealed class UtcInstantConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset().ToUniversalTime();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        Span<char> text = stackalloc char[32];
        value.UtcDateTime.TryFormat(text, out var length, "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        writer.WriteStringValue(text[..length]);
    }
}

/// <summary>JSON text stored as given (order and line metadata, event data) and written out unchanged.</summary>
[JsonConverter(typeof(RawJsonConverter))]
public readonly record struct RawJson(string Text)
{
    public static readonly RawJson EmptyObject = new("{}");
}

/// <summary>JSON stored as given, read as its UTF-8 bytes and written out unchanged (no round trip through a string).</summary>
[JsonConverter(typeof(RawUtf8JsonConverter))]
public readonly record struct RawUtf8Json(byte[] Utf8);

public sealed class RawUtf8JsonConverter : JsonConverter<RawUtf8Json>
{
    public override RawUtf8Json Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawUtf8Json(System.Text.Encoding.UTF8.GetBytes(document.RootElement.GetRawText()));
    }

    public override void Write(Utf8JsonWriter writer, RawUtf8Json value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Utf8, skipInputValidation: true);
}

public sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawJson(document.RootElement.GetRawText());
    }

    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Text, skipInputValidation: true);
}
