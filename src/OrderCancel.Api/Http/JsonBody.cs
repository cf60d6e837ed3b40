using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace OrderCancel.Api.Http;

/// <summary>Marks a request body whose properties are all optional: an empty body reads as <c>{}</c>.</summary>
public interface IOptionalBody;

/// <summary>
/// Marks a body that is a JSON merge patch (RFC 7396): taken as <c>application/merge-patch+json</c> or
/// <c>application/json</c> only. Another <c>+json</c> type is another document (a JSON Patch, RFC 6902, is a list of
/// operations) and must not be read as a merge patch.
/// </summary>
public interface IMergePatchBody;

/// <summary>Which JSON body a route reads, for the OpenAPI document.</summary>
public interface IJsonBodyMetadata
{
    Type BodyType { get; }

    bool IsOptional { get; }
}

/// <summary>A request body as the endpoint filters see it: parsed, or refused with a problem.</summary>
public interface IJsonBody
{
    object Value { get; }

    /// <summary>Why the body was refused (media type, size, syntax, shape), or null when it is usable.</summary>
    ProblemDetails? Refusal { get; }
}

/// <summary>
/// A strict JSON request body (SPEC §1, §6): media type and size, then syntax, then shape
/// (unknown properties, wrong types, text PostgreSQL cannot store) are checked in that order. A refusal is a value
/// the shared endpoint filter answers with, so every middleware sees the status the client gets.
/// Property-level rules are FluentValidation's, in <see cref="ValidationFilter"/>.
/// </summary>
public sealed class JsonBody<T> : IJsonBody, IEndpointParameterMetadataProvider
    where T : class
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    private readonly T? _value;

    private JsonBody(T? value, ProblemDetails? refusal)
    {
        _value = value;
        Refusal = refusal;
    }

    /// <summary>The parsed body; only a handler the filter let through reads it, so it is never a refused one.</summary>
    public T Value => _value ?? throw new InvalidOperationException("A refused body has no value; the validation filter answers its refusal.");

    public ProblemDetails? Refusal { get; }

    object IJsonBody.Value => Value;

    private static bool Optional => typeof(IOptionalBody).IsAssignableFrom(typeof(T));

    private static bool MergePatch => typeof(IMergePatchBody).IsAssignableFrom(typeof(T));

    [SuppressMessage("Design", "CA1000", Justification = "Minimal APIs bind through a static BindAsync on the parameter type.")]
    public static async ValueTask<JsonBody<T>?> BindAsync(HttpContext context)
    {
        var body = await RequestBody.ReadAsync(context);
        if (body.Refusal is { } refused)
        {
            return Refuse(refused);
        }

        if (body.Bytes.Length == 0)
        {
            return Optional
                ? Parse(EmptyObject)
                : Refuse(Problems.Create("malformed_json", "A JSON object body is required."));
        }

        if (!context.Request.HasJsonContentType())
        {
            return Refuse(Problems.Create("unsupported_media_type"));
        }

        if (MergePatch && !IsMergePatchMediaType(context.Request))
        {
            return Refuse(Problems.Create("unsupported_media_type", "Send the patch as application/merge-patch+json or application/json."));
        }

        return Parse(body.Bytes);
    }

    [SuppressMessage("Design", "CA1000", Justification = "Minimal APIs read metadata through a static method on the parameter type.")]
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) =>
        builder.Metadata.Add(new BodyMetadata(typeof(T), Optional));

    private static JsonBody<T> Refuse(ProblemDetails problem) => new(null, problem);

    private static bool IsMergePatchMediaType(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.MediaType.Equals("application/merge-patch+json", StringComparison.OrdinalIgnoreCase));

    private static JsonBody<T> Invalid(IDictionary<string, string[]> errors) =>
        Refuse(Problems.Create("validation_failed", "See errors for the properties to fix.", errors));

    private static JsonBody<T> Parse(byte[] raw)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(raw);
        }
        catch (JsonException exception)
        {
            return Refuse(Problems.Create("malformed_json", SyntaxError(exception)));
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Refuse(Problems.Create("malformed_json", "The body must be a JSON object."));
            }

            var errors = JsonShape.Check(document.RootElement, typeof(T), Json.Options);
            if (errors.Count > 0)
            {
                return Invalid(errors);
            }

            try
            {
                return new JsonBody<T>(document.RootElement.Deserialize<T>(Json.Options)!, null);
            }
            catch (JsonException exception)
            {
                return Invalid(new Dictionary<string, string[]> { [JsonShape.ToFieldPath(exception.Path)] = ["Has an invalid value."] });
            }
        }
    }

    /// <summary>Where the syntax broke, in the partner's terms (System.Text.Json's own message ends with advice about reader options).</summary>
    private static string SyntaxError(JsonException exception) =>
        exception.LineNumber is { } line && exception.BytePositionInLine is { } position
            ? $"The body is not valid JSON (line {line + 1}, byte {position + 1} of that line)."
            : "The body is not valid JSON.";

    /// <summary>
    /// Tells Swagger the body's type. Not <c>IAcceptsMetadata</c>: routing would then answer 415 itself,
    /// before authentication, where SPEC §6 wants 401 first.
    /// </summary>
    private sealed class BodyMetadata(Type type, bool optional) : IJsonBodyMetadata
    {
        public Type BodyType { get; } = type;

        public bool IsOptional { get; } = optional;
    }
}
