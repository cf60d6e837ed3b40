using System.Text.Json.Nodes;

namespace OrderCancel.Api.Http;

/// <summary>Headers an operation reads or answers beyond the ones every POST and DELETE has (<c>Idempotency-Key</c>).</summary>
[Flags]
public enum OperationHeaders
{
    None = 0,

    /// <summary>Reads <c>If-Match</c> (412 <c>version_mismatch</c>).</summary>
    IfMatch = 1,

    /// <summary>Reads <c>Prefer: return=minimal</c> and answers <c>Preference-Applied</c>.</summary>
    Prefer = 2,

    /// <summary>Answers the order's version in <c>ETag</c>.</summary>
    ETag = 4,

    /// <summary>Answers <c>Retry-After</c> while the work it reports is under way: when to ask again.</summary>
    RetryAfter = 8,
}

/// <summary>A named request body example; the first one an operation declares is Swagger UI's default.</summary>
public sealed record RequestExample(string Name, string Summary, JsonNode Value, string? Description = null);

/// <summary>
/// What the OpenAPI document says about an operation beyond its types: the refusal codes it can answer, the headers it
/// reads and writes, where its path ids come from, and its request examples. Endpoints and groups declare it; the
/// <see cref="OpenApi"/> filters read every instance on an endpoint and merge them.
/// </summary>
public sealed record OperationContract(
    IReadOnlyList<string> Codes,
    OperationHeaders Headers = OperationHeaders.None,
    IReadOnlyDictionary<string, string>? PathIds = null,
    IReadOnlyList<RequestExample>? Examples = null)
{
    public static OperationContract Merge(IEnumerable<OperationContract> contracts)
    {
        var all = contracts.ToList();
        return new OperationContract(
            [.. all.SelectMany(c => c.Codes).Distinct(StringComparer.Ordinal)],
            all.Aggregate(OperationHeaders.None, (headers, c) => headers | c.Headers),
            all.SelectMany(c => c.PathIds ?? new Dictionary<string, string>()).GroupBy(p => p.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal),
            all.Select(c => c.Examples).LastOrDefault(e => e is not null));
    }
}

public static class OperationContracts
{
    /// <summary>The problem codes this route can answer besides the ones every route, body and key can (see <see cref="OpenApi"/>).</summary>
    public static TBuilder Refuses<TBuilder>(this TBuilder builder, params string[] codes)
        where TBuilder : IEndpointConventionBuilder
    {
        if (codes.FirstOrDefault(code => !Problems.Codes.ContainsKey(code)) is { } unknown)
        {
            throw new ArgumentException($"'{unknown}' is not a problem code.", nameof(codes));
        }

        return builder.WithMetadata(new OperationContract(codes));
    }

    public static TBuilder Reads<TBuilder>(this TBuilder builder, OperationHeaders headers)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new OperationContract([], headers));

    /// <summary>How a client learns a path parameter such as <c>{id}</c>, for the document and Swagger UI.</summary>
    public static TBuilder DescribesPath<TBuilder>(this TBuilder builder, string parameter, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OperationContract([], PathIds: new Dictionary<string, string>(StringComparer.Ordinal) { [parameter] = description }));

    public static TBuilder WithRequestExamples<TBuilder>(this TBuilder builder, params RequestExample[] examples)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new OperationContract([], Examples: examples));

    /// <summary>
    /// An order mutation: 404 for an unknown order, 412 for a stale <c>If-Match</c>, the state rules it names;
    /// reads <c>If-Match</c> and <c>Prefer</c>, answers the new <c>ETag</c>.
    /// </summary>
    public static RouteHandlerBuilder ChangesOrder(this RouteHandlerBuilder builder, params string[] stateRules) => builder
        .Refuses(["order_not_found", "version_mismatch", .. stateRules])
        .Reads(OperationHeaders.IfMatch | OperationHeaders.Prefer | OperationHeaders.ETag);
}
