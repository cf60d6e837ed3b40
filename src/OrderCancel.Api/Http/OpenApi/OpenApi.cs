using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrderCancel.Api.Http;

/// <summary>
/// Swagger UI at <c>/swagger</c>, the document at <c>/swagger/v1/swagger.json</c>. The document is the contract partners
/// generate clients from, so it says exactly what the service does: the schemas (<see cref="OpenApiSchemas"/>), every
/// refusal with its codes, every header, working examples (<see cref="OperationContract"/>) and the webhook payloads
/// (<see cref="OpenApiWebhooks"/>). A snapshot of it is checked in as <c>openapi.json</c>.
/// </summary>
public static class OpenApi
{
    public const string BearerScheme = "Bearer";
    public const string DocumentPath = "/swagger/v1/swagger.json";

    private const string ProblemJson = "application/problem+json";

    public static IServiceCollection AddOrderCancelOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSingleton<CachedDocuments>();
        services.AddSingleton<ISwaggerProvider>(provider => provider.GetRequiredService<CachedDocuments>());
        services.AddSingleton<IAsyncSwaggerProvider>(provider => provider.GetRequiredService<CachedDocuments>());
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "OrderCancel API",
                Version = "v1",
                Description = "Look up orders and cancel them: in full, in part, or on a future date; take back a "
                    + "scheduled cancellation; reactivate. Authorize with your API key (Bearer). "
                    + "Errors are RFC 9457 problem details whose `code` is stable: branch on it. Every response carries "
                    + "`traceresponse` (W3C Trace Context): the same value as a problem's `trace_id`; quote it when reporting one.",
                Contact = new OpenApiContact { Name = "OrderCancel", Url = new Uri("https://ordercancel.dev/support") },
                License = new OpenApiLicense { Name = "Proprietary", Url = new Uri("https://ordercancel.dev/terms") },
            });
            options.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "Your API key, e.g. the demo key the run command prints.",
            });
            options.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [],
            });
            OpenApiSchemas.Configure(options);
            options.ParameterFilter<QueryParameters>();
            options.OperationFilter<JsonBodies>();
            options.OperationFilter<Contracts>();
            options.DocumentFilter<OpenApiWebhooks>();
            options.DocumentFilter<ServerAndTags>();
            var xml = Path.Combine(AppContext.BaseDirectory, $"{Assembly.GetExecutingAssembly().GetName().Name}.xml");
            if (File.Exists(xml))
            {
                options.IncludeXmlComments(xml);
            }
        });
        return services;
    }

    public static WebApplication UseOrderCancelOpenApi(this WebApplication app)
    {
        // Only under /swagger: every other request would pay for both middlewares' path matching.
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase),
            swagger => swagger
                .UseSwagger(options => options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1)
                .UseSwaggerUI(options =>
                {
                    options.SwaggerEndpoint(DocumentPath, "OrderCancel v1");
                    options.DocumentTitle = "OrderCancel API";
                    options.EnablePersistAuthorization();
                    options.DisplayRequestDuration();
                }));
        return app;
    }

    /// <summary>
    /// The document does not change while the process runs, and anyone may ask for it (no key, no rate limit), so it is
    /// generated once rather than on every request (about 60 ms of CPU each).
    /// </summary>
    private sealed class CachedDocuments(SwaggerGenerator generator) : ISwaggerProvider, IAsyncSwaggerProvider
    {
        private readonly ConcurrentDictionary<string, Lazy<OpenApiDocument>> _documents = new(StringComparer.Ordinal);

        public OpenApiDocument GetSwagger(string documentName, string? host = null, string? basePath = null) =>
            _documents.GetOrAdd(
                documentName,
                name => new Lazy<OpenApiDocument>(() => generator.GetSwagger(name), LazyThreadSafetyMode.PublicationOnly)).Value;

        public Task<OpenApiDocument> GetSwaggerAsync(string documentName, string? host = null, string? basePath = null) =>
            Task.FromResult(GetSwagger(documentName));
    }

    /// <summary>
    /// The server is <c>/</c>: the API is at the root of wherever the document was served, so one checked-in document
    /// fits every environment and Swagger UI calls the host it was loaded from.
    /// </summary>
    private sealed class ServerAndTags : IDocumentFilter
    {
        private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
        {
            ["Orders"] = "Create, read and list orders; pay, cancel (in full, in part, now or later), take back a scheduled change, reactivate.",
            ["Cancellation jobs"] = "Bulk cancellations in the background: by ids or a filter (SKU, status, metadata…), whole orders or one SKU's lines, "
                + "with a dry run first, progress, per-order results and a stop.",
            ["Events"] = "Your events across orders, cancellation jobs and settings: a feed to poll with a cursor that never misses "
                + "an event or repeats one, and any event by id.",
            ["Settings"] = "Your settings (SPEC §11): unpaid orders expire after a TTL, a cancellation window, and what a partial "
                + "cancel does to shipping. The defaults keep SPEC §3 exactly.",
            ["Webhooks"] = "Endpoints that receive signed events (Standard Webhooks), their deliveries and secrets.",
            ["Testing"] = "For QA in test environments: fire order.cancelled, apply scheduled changes now. 403 in Production.",
            ["Admin"] = "Partners, their API keys and their settings; the admin key only.",
        };

        public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
        {
            swaggerDoc.Servers = [new OpenApiServer { Url = "/", Description = "The host this document was served from" }];
            swaggerDoc.Tags = new HashSet<OpenApiTag>(
                Descriptions.Select(tag => new OpenApiTag { Name = tag.Key, Description = tag.Value }));
        }
    }

    /// <summary>Documents the body a <see cref="JsonBody{T}"/> parameter reads.</summary>
    private sealed class JsonBodies : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var body = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<IJsonBodyMetadata>().FirstOrDefault();
            if (body is null)
            {
                return;
            }

            operation.RequestBody = new OpenApiRequestBody
            {
                Required = !body.IsOptional,
                Description = body.IsOptional ? "All properties are optional; an empty body or {} will do." : null,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = context.SchemaGenerator.GenerateSchema(body.BodyType, context.SchemaRepository) },
                },
            };
        }
    }

    /// <summary>Query strings the service reads as text so that it can answer a bad value itself, documented as what they take.</summary>
    private sealed class QueryParameters : IParameterFilter
    {
        public void Apply(IOpenApiParameter parameter, ParameterFilterContext context)
        {
            if (parameter is not OpenApiParameter concrete || context.PropertyInfo is not { } property)
            {
                return;
            }

            if (property.GetCustomAttribute<SchemaRefAttribute>() is { } named)
            {
                concrete.Schema = OpenApiSchemas.Ref(named.SchemaId);
            }
            else if (property.GetCustomAttribute<System.ComponentModel.DataAnnotations.RangeAttribute>() is { } range)
            {
                concrete.Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer,
                    Format = "int32",
                    Minimum = Convert.ToString(range.Minimum, System.Globalization.CultureInfo.InvariantCulture),
                    Maximum = Convert.ToString(range.Maximum, System.Globalization.CultureInfo.InvariantCulture),
                    Default = property.GetCustomAttribute<System.ComponentModel.DefaultValueAttribute>()?.Value is { } value
                        ? JsonValue.Create(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture))
                        : null,
                };
            }
        }
    }

    /// <summary>
    /// Applies each operation's <see cref="OperationContract"/>: its problem responses, grouped by status with the codes
    /// each can carry; the headers it reads and answers; what its path ids are; its request examples.
    /// </summary>
    private sealed class Contracts : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            var contract = OperationContract.Merge(metadata.OfType<OperationContract>());
            var method = context.ApiDescription.HttpMethod ?? "GET";
            var keyed = HttpMethods.IsPost(method) || HttpMethods.IsDelete(method);
            var hasBody = metadata.OfType<IJsonBodyMetadata>().Any();
            var hasQuery = context.ApiDescription.ParameterDescriptions.Any(p => p.Source.Id == "Query");

            operation.Parameters ??= [];
            foreach (var parameter in operation.Parameters.OfType<OpenApiParameter>().Where(p => p.In == ParameterLocation.Path))
            {
                parameter.Description ??= contract.PathIds?.GetValueOrDefault(parameter.Name!);
            }

            if (keyed)
            {
                operation.Parameters.Add(Headers.IdempotencyKey());
            }

            if (contract.Headers.HasFlag(OperationHeaders.IfMatch))
            {
                operation.Parameters.Add(Headers.IfMatch());
            }

            if (contract.Headers.HasFlag(OperationHeaders.Prefer))
            {
                operation.Parameters.Add(Headers.Prefer());
            }

            DocumentSuccesses(operation, contract, keyed);
            DocumentRefusals(operation, Codes(contract, keyed, hasBody, hasQuery));
            if (contract.Examples is { Count: > 0 } examples
                && operation.RequestBody?.Content?.TryGetValue("application/json", out var json) == true)
            {
                json.Examples = examples.ToDictionary(
                    e => e.Name,
                    e => (IOpenApiExample)new OpenApiExample { Summary = e.Summary, Description = e.Description, Value = e.Value.DeepClone() });
            }
        }

        /// <summary>What any route of the contract's kind can answer, then the route's own codes.</summary>
        private static IEnumerable<string> Codes(OperationContract contract, bool keyed, bool hasBody, bool hasQuery)
        {
            if (hasBody)
            {
                yield return "malformed_json";
                yield return "request_timeout";
                yield return "payload_too_large";
                yield return "unsupported_media_type";
            }

            if (hasBody || hasQuery)
            {
                yield return "bad_request";
                yield return "validation_failed";
            }

            if (keyed)
            {
                yield return "idempotency_key_in_use";
                yield return "idempotency_key_reused";
                yield return "validation_failed";
            }

            foreach (var code in contract.Codes)
            {
                yield return code;
            }
        }

        private static void DocumentSuccesses(OpenApiOperation operation, OperationContract contract, bool keyed)
        {
            foreach (var (status, response) in (operation.Responses ?? []).Where(r => r.Key.StartsWith('2')).ToList())
            {
                if (response is not OpenApiResponse concrete)
                {
                    continue;
                }

                var headers = concrete.Headers ??= new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal);
                if (contract.Headers.HasFlag(OperationHeaders.ETag) && status != "204")
                {
                    headers["ETag"] = Headers.ETag();
                }

                if (status is "201" or "202")
                {
                    headers["Location"] = Headers.Location(status);
                }

                if (contract.Headers.HasFlag(OperationHeaders.RetryAfter))
                {
                    headers["Retry-After"] = Headers.RetryAfter("While the work is queued or running: seconds to wait before asking for it again (an answer replayed for an Idempotency-Key carries none). Absent once it has finished.");
                }

                if (keyed)
                {
                    headers["Idempotent-Replayed"] = Headers.IdempotentReplayed();
                }

                if (contract.Headers.HasFlag(OperationHeaders.Prefer))
                {
                    headers["Preference-Applied"] = Headers.PreferenceApplied();
                    DocumentMinimal(concrete);
                }
            }
        }

        /// <summary>
        /// Under <c>Prefer: return=minimal</c> a mutation's <c>OrderChangeResponse</c> leaves out <c>order</c>, so its schema
        /// (the minimal answer plus <c>order</c>) covers both answers. A creation answers <c>MinimalChangeResponse</c>
        /// instead of the order: a union would cost every typed client its plain <c>OrderResponse</c> (Kiota and NSwag
        /// both lose fields of an object union without a discriminator), so the document says so in words.
        /// </summary>
        private static void DocumentMinimal(OpenApiResponse response)
        {
            if (response.Content?.Values.Any(media => media.Schema is OpenApiSchemaReference { Reference.Id: nameof(Orders.OrderResponse) }) == true)
            {
                response.Description = "The order. With `Prefer: return=minimal`, a `MinimalChangeResponse` instead: "
                    + "`{event_id, order_id, status}`.";
            }
        }

        private static void DocumentRefusals(OpenApiOperation operation, IEnumerable<string> codes)
        {
            operation.Responses ??= [];
            foreach (var status in operation.Responses.Keys.Where(status => status.Length == 3 && status[0] is '4' or '5').ToList())
            {
                operation.Responses.Remove(status);
            }

            foreach (var group in codes.Distinct(StringComparer.Ordinal).GroupBy(Problems.StatusOf).OrderBy(g => g.Key))
            {
                var list = group.ToList();
                var example = Problems.Create(list[0], "A sentence for people saying what to fix; branch on code.");
                example.Extensions["trace_id"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
                var response = new OpenApiResponse
                {
                    Description = $"{Titles(list)}. `code`: {string.Join(", ", list.Select(c => $"`{c}`"))}.",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        [ProblemJson] = new()
                        {
                            Schema = OpenApiSchemas.Ref(OpenApiSchemas.Problem),
                            Example = JsonNode.Parse(JsonSerializer.Serialize(example, Json.Options)),
                        },
                    },
                };
                if (group.Key is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable)
                {
                    response.Headers = new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal) { ["Retry-After"] = Headers.RetryAfter() };
                }

                operation.Responses[group.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)] = response;
            }
        }

        private static string Titles(IReadOnlyList<string> codes) =>
            string.Join("; ", codes.Select(code => Problems.Codes[code].Title).Distinct(StringComparer.Ordinal));
    }

    /// <summary>The request and response headers of SPEC §5 and §8.</summary>
    private static class Headers
    {
        public static OpenApiParameter IdempotencyKey() => new()
        {
            Name = Idempotency.Header,
            In = ParameterLocation.Header,
            Description = "Any unique string (a UUID will do), 1 to 255 characters. The first answer is kept 24 h: a retry of "
                + "the same request gets it again with `Idempotent-Replayed: true`; the same key on a different request is 422 "
                + "`idempotency_key_reused`; while the first is still running, 409 `idempotency_key_in_use`. 5xx answers are not kept.",
            // No example: Swagger UI would fill it into every "Try it out", so each call after the first would reuse one key.
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = Idempotency.MaxKeyLength },
        };

        public static OpenApiParameter IfMatch() => new()
        {
            Name = "If-Match",
            In = ParameterLocation.Header,
            Description = "The `ETag` (`\"<version>\"`) of what you change (the order, or the settings) as you last read it: the "
                + "change applies only if it has not changed since, else 412 `version_mismatch`. Leave it out to change it whatever its version.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        };

        public static OpenApiParameter Prefer() => new()
        {
            Name = "Prefer",
            In = ParameterLocation.Header,
            Description = "`return=minimal` answers `{event_id, order_id, status}` without the order (see `MinimalChangeResponse`).",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("return=minimal"), JsonValue.Create("return=representation")] },
        };

        public static OpenApiHeader ETag() => new()
        {
            Description = "The version of what the answer carries (the order, or the settings), `\"<version>\"`; send it back in `If-Match`.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            Example = JsonValue.Create("\"2\""),
        };

        public static OpenApiHeader Location(string status) => new()
        {
            Description = status == "201" ? "Where the created resource is." : "Where to follow the accepted change.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        };

        public static OpenApiHeader IdempotentReplayed() => new()
        {
            Description = "`true` when this is the kept answer of an earlier request with the same `Idempotency-Key`.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("true")] },
        };

        public static OpenApiHeader PreferenceApplied() => new()
        {
            Description = "`return=minimal` when the answer honours `Prefer: return=minimal`.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("return=minimal")] },
        };

        public static OpenApiHeader RetryAfter(string description = "Seconds to wait before trying again.") => new()
        {
            Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1" },
        };
    }
}
