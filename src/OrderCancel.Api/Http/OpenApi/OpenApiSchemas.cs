using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.OpenApi;
using OrderCancel.Api.Orders;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrderCancel.Api.Http;

/// <summary>A property the document describes by a named schema: a closed set of strings (event types, problem codes) or the shape of stored JSON.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class SchemaRefAttribute(string schemaId) : Attribute
{
    public string SchemaId { get; } = schemaId;
}

/// <summary>A request property whose null means something (merge patch: back to the default; an expiry: never), so the document allows it.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AcceptsNullAttribute : Attribute;

/// <summary>The named string enums that are not C# enums, and the schema shapes every generator should see.</summary>
public static class OpenApiSchemas
{
    public const string EventType = nameof(EventType);
    public const string EventTypeOrAll = nameof(EventTypeOrAll);
    public const string ProblemCode = nameof(ProblemCode);
    public const string ClientReason = "ClientCancellationReason";
    public const string Problem = nameof(Problem);

    public static void Configure(SwaggerGenOptions options)
    {
        // Money and rates are decimals on the wire: a generator maps format decimal to decimal/Decimal, never to a float.
        options.MapType<decimal>(() => Decimal(nullable: false));
        options.MapType<decimal?>(() => Decimal(nullable: true));
        options.MapType<RawJson>(FreeFormObject);
        options.MapType<RawUtf8Json>(FreeFormObject);
        options.MapType<JsonElement>(FreeFormObject);
        options.SupportNonNullableReferenceTypes();
        options.SchemaFilter<Shapes>();
        options.DocumentFilter<NamedSets>();
    }

    public static OpenApiSchemaReference Ref(string id) => new(id);

    private static OpenApiSchema Decimal(bool nullable) => new()
    {
        Type = nullable ? JsonSchemaType.Number | JsonSchemaType.Null : JsonSchemaType.Number,
        Format = "decimal",
    };

    private static OpenApiSchema FreeFormObject() => new()
    {
        Type = JsonSchemaType.Object,
        AdditionalPropertiesAllowed = true,
        AdditionalProperties = new OpenApiSchema(),
        Description = "Free-form JSON object, kept as given.",
    };

    /// <summary>
    /// Required and nullable as the wire has them. A response record (built by the service through its constructor)
    /// always writes every property, null included, except those it leaves out when null; a request lists what its
    /// <see cref="RequiredAttribute"/> marks, and an optional property is left out rather than sent as null (unless
    /// null means something of its own: <see cref="AcceptsNullAttribute"/>). A nullable
    /// reference to another schema is <c>oneOf: [null, $ref]</c>, the one form that Kiota, NSwag and openapi-typescript
    /// all read as "this type, or null" and both linters accept (<c>anyOf</c> loses the type in NSwag 14; OpenAPI 3.0's
    /// <c>allOf</c> + <c>nullable</c> has no <c>type</c> and Redocly refuses it). A response may gain properties, so
    /// only requests forbid unknown ones.
    /// </summary>
    private sealed class Shapes : ISchemaFilter
    {
        private static readonly NullabilityInfoContext Nullability = new();

        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (schema is not OpenApiSchema { Properties.Count: > 0 } concrete || context.MemberInfo is not null)
            {
                return;
            }

            var isResponse = context.Type.GetConstructors().Any(c => c.GetParameters().Length > 0);
            var members = context.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), StringComparer.Ordinal);
            concrete.Required ??= new SortedSet<string>(StringComparer.Ordinal);
            if (isResponse)
            {
                concrete.AdditionalPropertiesAllowed = true;
                concrete.AdditionalProperties = null;
            }

            foreach (var (name, property) in concrete.Properties!.ToList())
            {
                if (!members.TryGetValue(name, out var member))
                {
                    continue;
                }

                var omittedWhenNull = member.GetCustomAttribute<JsonIgnoreAttribute>()?.Condition == JsonIgnoreCondition.WhenWritingNull;
                var required = isResponse ? !omittedWhenNull : member.GetCustomAttribute<RequiredAttribute>() is not null;
                var nullable = isResponse ? !omittedWhenNull && IsNullable(member) : member.GetCustomAttribute<AcceptsNullAttribute>() is not null;
                if (required)
                {
                    concrete.Required.Add(name);
                }

                if (member.GetCustomAttribute<SchemaRefAttribute>() is { } named)
                {
                    concrete.Properties[name] = Named(property, named.SchemaId, nullable);
                    continue;
                }

                concrete.Properties[name] = WithNullability(property, nullable);
            }
        }

        private static bool IsNullable(PropertyInfo member) =>
            member.PropertyType.IsValueType
                ? Nullable.GetUnderlyingType(member.PropertyType) is not null
                : Nullability.Create(member).ReadState == NullabilityState.Nullable;

        private static IOpenApiSchema Named(IOpenApiSchema property, string schemaId, bool nullable) =>
            property.Type?.HasFlag(JsonSchemaType.Array) == true
                ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = Ref(schemaId), Description = property.Description }
                : WithNullability(Ref(schemaId), nullable, property.Description);

        private static IOpenApiSchema WithNullability(IOpenApiSchema property, bool nullable, string? description = null)
        {
            switch (property)
            {
                case OpenApiSchemaReference reference when nullable:
                    return new OpenApiSchema { OneOf = [new OpenApiSchema { Type = JsonSchemaType.Null }, reference], Description = description ?? reference.Description };
                case OpenApiSchema concrete when concrete.Type is { } type:
                    concrete.Type = nullable ? type | JsonSchemaType.Null : type & ~JsonSchemaType.Null;
                    return concrete;
                default:
                    return property;
            }
        }
    }

    /// <summary>The string enums that are not C# enums, and the one problem schema every error response uses.</summary>
    private sealed class NamedSets : IDocumentFilter
    {
        public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
        {
            swaggerDoc.Components ??= new OpenApiComponents();
            var schemas = swaggerDoc.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
            schemas[EventType] = StringEnum("An event type (SPEC §2, §10).", Webhooks.EventTypes.All);
            schemas[EventTypeOrAll] = StringEnum("An event type, or `*` for every type.", ["*", .. Webhooks.EventTypes.All]);
            schemas[ClientReason] = StringEnum(
                "A cancellation reason a client may give: every `CancellationReason` but `expired`, which only the service sets.",
                Json.Names<Domain.CancellationReason>().Where(name => name != Json.Name(Domain.CancellationReason.Expired)));
            schemas[ProblemCode] = StringEnum(
                "The stable, machine-readable reason of a problem (SPEC §6); branch on it. New codes may be added: treat an "
                + "unknown one by its HTTP status.",
                Problems.Codes.Keys);
            ExtendMinimalChange(schemas, context);
            schemas[Problem] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "RFC 9457 problem details with the stable `code` to branch on.",
                Required = new SortedSet<string>(["type", "title", "status", "detail", "code", "trace_id"], StringComparer.Ordinal),
                Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
                {
                    ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "`https://ordercancel.dev/problems/` + code." },
                    ["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The code's fixed summary." },
                    ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status." },
                    ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What to fix, for people; do not parse it." },
                    ["code"] = Ref(ProblemCode),
                    ["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The W3C trace id of the request; quote it when reporting a problem." },
                    ["errors"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Description = "Only with `validation_failed`: each property path in the request's own names (`lines[0].quantity`) and what is wrong with it.",
                        AdditionalPropertiesAllowed = true,
                        AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                    },
                },
            };
        }

        /// <summary>A mutation's full answer is the minimal one plus <c>order</c>: say so, so generated types inherit.</summary>
        private static void ExtendMinimalChange(IDictionary<string, IOpenApiSchema> schemas, DocumentFilterContext context)
        {
            context.SchemaGenerator.GenerateSchema(typeof(MinimalChangeResponse), context.SchemaRepository);
            if (!schemas.TryGetValue(nameof(OrderChangeResponse), out var change)
                || change is not OpenApiSchema full
                || full.Properties is null
                || !full.Properties.TryGetValue("order", out var order))
            {
                return;
            }

            schemas[nameof(OrderChangeResponse)] = new OpenApiSchema
            {
                Description = full.Description,
                AllOf =
                [
                    Ref(nameof(MinimalChangeResponse)),
                    new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal) { ["order"] = order },
                    },
                ],
            };
        }

        private static OpenApiSchema StringEnum(string description, IEnumerable<string> values) => new()
        {
            Type = JsonSchemaType.String,
            Description = description,
            Enum = [.. values.Select(value => (JsonNode)JsonValue.Create(value))],
        };
    }
}
