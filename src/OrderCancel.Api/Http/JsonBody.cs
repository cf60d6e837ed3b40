using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;

namespace OrderCancel.Api.Http;

public static class RequestLimits
{
    /// <summary>SPEC §6: a larger body is a 413.</summary>
    public const int MaxBodyBytes = 1024 * 1024;
}

/// <summary>Marks a request body whose properties are all optional: an empty body reads as <c>{}</c>.</summary>
public interface IOptionalBody;

/// <summary>Which JSON body a route reads, for the OpenAPI document.</summary>
public interface IJsonBodyMetadata
{
    Type BodyType { get; }

    bool IsOptional { get; }
}

/// <summary>A parsed request body, as the endpoint filters see it.</summary>
public interface IJsonBody
{
    object Value { get; }

    /// <summary>The body's bytes as received, for idempotency fingerprints.</summary>
    ReadOnlyMemory<byte> Raw { get; }
}

/// <summary>
/// A strict JSON request body (SPEC §1, §6): media type and size, then syntax, then shape
/// (unknown properties, wrong types) are checked in that order, each refusal a problem with its code.
/// Property-level rules are FluentValidation's, in <see cref="ValidationFilter"/>.
/// </summary>
public sealed class JsonBody<T> : IJsonBody, IEndpointParameterMetadataProvider
    where T : class
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    private JsonBody(T value, ReadOnlyMemory<byte> raw)
    {
        Value = value;
        Raw = raw;
    }

    public T Value { get; }

    public ReadOnlyMemory<byte> Raw { get; }

    object IJsonBody.Value => Value;

    private static bool Optional => typeof(IOptionalBody).IsAssignableFrom(typeof(T));

    [SuppressMessage("Design", "CA1000", Justification = "Minimal APIs bind through a static BindAsync on the parameter type.")]
    public static async ValueTask<JsonBody<T>?> BindAsync(HttpContext context)
    {
        var raw = await RequestBody.ReadAsync(context);
        if (raw.Length == 0)
        {
            return Optional
                ? Parse(EmptyObject)
                : throw ProblemException.Of("malformed_json", "A JSON object body is required.");
        }

        if (!context.Request.HasJsonContentType())
        {
            throw ProblemException.Of("unsupported_media_type", "Send the body as application/json.");
        }

        return Parse(raw);
    }

    [SuppressMessage("Design", "CA1000", Justification = "Minimal APIs read metadata through a static method on the parameter type.")]
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) =>
        builder.Metadata.Add(new BodyMetadata(typeof(T), Optional));

    private static JsonBody<T> Parse(byte[] raw)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(raw);
        }
        catch (JsonException exception)
        {
            throw ProblemException.Of("malformed_json", $"The body is not valid JSON: {exception.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ProblemException.Of("malformed_json", "The body must be a JSON object.");
            }

            var errors = JsonShape.Check(document.RootElement, typeof(T), Json.Options);
            if (errors.Count > 0)
            {
                throw ProblemException.Of("validation_failed", "See errors for the properties to fix.", errors);
            }

            try
            {
                return new JsonBody<T>(document.RootElement.Deserialize<T>(Json.Options)!, raw);
            }
            catch (JsonException exception)
            {
                var path = JsonShape.ToFieldPath(exception.Path);
                throw ProblemException.Of("validation_failed", "See errors for the properties to fix.", new Dictionary<string, string[]>
                {
                    [path] = ["Has an invalid value."],
                });
            }
        }
    }

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
