using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// The OpenAPI document the service serves, and what it says an answer looks like: each response body is checked
/// against the JSON Schema (2020-12, OpenAPI 3.1's dialect) the document declares for its operation and status.
/// </summary>
public sealed partial class ServedDocument
{
    public const string Path = "/swagger/v1/swagger.json";

    private readonly Dictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);

    private ServedDocument(string text)
    {
        Text = text;
        Root = JsonNode.Parse(text)!.AsObject();
    }

    public string Text { get; }

    public JsonObject Root { get; }

    public JsonObject Paths => Root["paths"]!.AsObject();

    public JsonObject Schemas => Root["components"]!["schemas"]!.AsObject();

    public static async Task<ServedDocument> FetchAsync(HttpClient client)
    {
        var response = await client.GetAsync(Path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new ServedDocument(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Every operation of the API, with its path template and method.</summary>
    public IEnumerable<(string Path, string Method, JsonObject Operation)> Operations() =>
        from path in Paths
        from operation in path.Value!.AsObject()
        select (path.Key, operation.Key, operation.Value!.AsObject());

    public JsonObject Operation(string path, string method) => Paths[path]![method.ToLowerInvariant()]!.AsObject();

    /// <summary>
    /// Asserts the answer is one the document declares for <paramref name="path"/> (a template such as
    /// <c>/v1/orders/{id}</c>): its status is listed, and its body matches the schema listed for that status.
    /// </summary>
    public async Task<JsonElement> AssertDocumentedAsync(HttpResponseMessage response, string method, string path)
    {
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var text = await response.Content.ReadAsStringAsync();
        var documented = Operation(path, method)["responses"]!.AsObject();
        Assert.True(documented.ContainsKey(status), $"{method} {path} answered {status}, which the document does not list: {text}");
        var content = documented[status]!["content"]?.AsObject();
        if (content is null || content.Count == 0)
        {
            Assert.Equal("", text);
            return default;
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        Assert.True(mediaType is not null && content.ContainsKey(mediaType), $"{method} {path} {status} answered {mediaType}, not {string.Join(", ", content.Select(c => c.Key))}");
        var body = JsonDocument.Parse(text).RootElement;
        AssertMatches(content[mediaType!]!["schema"]!, body, $"{method} {path} {status}");
        return body;
    }

    /// <summary>Asserts the JSON matches a schema of the document (a <c>$ref</c> or an inline schema).</summary>
    public void AssertMatches(JsonNode schema, JsonElement instance, string what)
    {
        var key = schema.ToJsonString();
        if (!_schemas.TryGetValue(key, out var compiled))
        {
            var wrapper = new JsonObject
            {
                ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
                // JsonSchema.Net keeps every schema by its $id in one process-wide registry: each gets its own.
                ["$id"] = $"https://ordercancel.test/schemas/{Guid.NewGuid():N}",
                ["$defs"] = JsonNode.Parse(ComponentRef().Replace(Schemas.ToJsonString(), "#/$defs/")),
            };
            foreach (var (name, value) in JsonNode.Parse(ComponentRef().Replace(key, "#/$defs/"))!.AsObject())
            {
                wrapper[name] = value?.DeepClone();
            }

            compiled = _schemas[key] = JsonSchema.FromText(wrapper.ToJsonString());
        }

        var result = compiled.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, $"{what} does not match its schema: "
            + string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")))
            + $"\n{instance.GetRawText()}");
    }

    [GeneratedRegex("#/components/schemas/")]
    private static partial Regex ComponentRef();
}
