using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrderCancel.Api.Http;

/// <summary>
/// Checks a JSON document against the shape of the type it will become, listing every unknown property
/// and every value of the wrong type at once, under the request's own paths (<c>lines[0].quantity</c>).
/// Text comes first: a string or property name that PostgreSQL cannot store (NUL, or an unpaired UTF-16
/// surrogate escape) is refused wherever it stands, free-form metadata included.
/// </summary>
public static class JsonShape
{
    public const string NulMessage = "Must not contain the NUL character (\\u0000).";
    public const string SurrogateMessage = "Must be valid Unicode text (an escaped UTF-16 surrogate is unpaired).";

    public static Dictionary<string, string[]> Check(JsonElement element, Type type, JsonSerializerOptions options)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        CheckText(element, "", errors);
        if (errors.Count == 0)
        {
            Visit(element, type, "", options, errors);
        }

        return errors;
    }

    /// <summary>Why PostgreSQL could not store this text, or null when it can.</summary>
    public static string? UnstorableText(string? text) => text is not null && text.Contains('\0', StringComparison.Ordinal) ? NulMessage : null;

    private static void CheckText(JsonElement element, string path, Dictionary<string, string[]> errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                if (TextProblem(element.GetString) is { } problem)
                {
                    errors[path] = [problem];
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    CheckText(item, $"{path}[{index++}]", errors);
                }

                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (TextProblem(() => property.Name) is { } nameProblem)
                    {
                        errors[path.Length == 0 ? "(property name)" : $"{path}.(property name)"] = [nameProblem];
                        continue;
                    }

                    CheckText(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}", errors);
                }

                break;
            default:
                break;
        }
    }

    private static string? TextProblem(Func<string?> read)
    {
        try
        {
            return UnstorableText(read());
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to turn an unpaired surrogate escape into a .NET string.
            return SurrogateMessage;
        }
    }

    /// <summary><c>$.lines[0].quantity</c> → <c>lines[0].quantity</c>.</summary>
    public static string ToFieldPath(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) || jsonPath == "$" ? "" : jsonPath.TrimStart('$').TrimStart('.');

    private static void Visit(JsonElement element, Type type, string path, JsonSerializerOptions options, Dictionary<string, string[]> errors)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return; // Whether null is allowed is a validation rule ("is required"), not a shape one.
        }

        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (Expectation(target) is { } expected)
        {
            if (!expected.Accepts(element))
            {
                errors[path] = [expected.Message];
            }

            return;
        }

        var info = options.GetTypeInfo(target);
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Enumerable when element.ValueKind == JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Visit(item, info.ElementType!, $"{path}[{index++}]", options, errors);
                }

                break;
            case JsonTypeInfoKind.Enumerable:
                errors[path] = ["Must be an array."];
                break;
            case JsonTypeInfoKind.Object when element.ValueKind == JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var childPath = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                    var member = info.Properties.FirstOrDefault(p => p.Name == property.Name);
                    if (member is null)
                    {
                        errors[childPath] = ["Is not a known property."];
                    }
                    else
                    {
                        Visit(property.Value, member.PropertyType, childPath, options, errors);
                    }
                }

                break;
            case JsonTypeInfoKind.Object:
                errors[path] = ["Must be an object."];
                break;
            default:
                break;
        }
    }

    private static Expected? Expectation(Type type)
    {
        if (type == typeof(string))
        {
            return new(e => e.ValueKind == JsonValueKind.String, "Must be a string.");
        }

        if (type == typeof(bool))
        {
            return new(e => e.ValueKind is JsonValueKind.True or JsonValueKind.False, "Must be true or false.");
        }

        if (type == typeof(int))
        {
            return new(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _), "Must be a whole number.");
        }

        if (type == typeof(long))
        {
            return new(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out _), "Must be a whole number.");
        }

        if (type == typeof(decimal))
        {
            return new(e => e.ValueKind == JsonValueKind.Number && e.TryGetDecimal(out _), "Must be a number.");
        }

        if (type == typeof(DateOnly))
        {
            return new(
                e => e.ValueKind == JsonValueKind.String
                    && DateOnly.TryParseExact(e.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
                "Must be a date in YYYY-MM-DD format.");
        }

        if (type == typeof(DateTimeOffset))
        {
            return new(
                // Without an offset System.Text.Json would read the server's local time: refused, as the query filters do.
                e => e.ValueKind == JsonValueKind.String && e.TryGetDateTimeOffset(out _) && Instants.HasOffset(e.GetString()),
                "Must be an ISO 8601 instant with its offset, e.g. 2026-01-31T00:00:00Z.");
        }

        if (type.IsEnum)
        {
            var names = Json.Names(type);
            return new(
                e => e.ValueKind == JsonValueKind.String && names.Contains(e.GetString()),
                $"Must be one of: {string.Join(", ", names)}.");
        }

        if (type == typeof(JsonElement) || type == typeof(RawJson))
        {
            return new(_ => true, "");
        }

        return null;
    }

    private sealed record Expected(Func<JsonElement, bool> Accepts, string Message);
}
