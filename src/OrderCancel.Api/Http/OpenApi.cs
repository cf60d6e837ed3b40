using System.Reflection;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrderCancel.Api.Http;

/// <summary>Swagger UI at <c>/swagger</c>, the document at <c>/swagger/v1/swagger.json</c>, with a bearer "Authorize" button.</summary>
public static class OpenApi
{
    public const string BearerScheme = "Bearer";

    public static IServiceCollection AddOrderCancelOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "OrderCancel API",
                Version = "v1",
                Description = "Look up orders and cancel them: in full, in part, or on a future date; take back a "
                    + "scheduled cancellation; reactivate. Authorize with your API key (Bearer). "
                    + "Errors are RFC 9457 problem details whose `code` is stable.",
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
            options.MapType<RawJson>(() => new OpenApiSchema { Type = JsonSchemaType.Object, Description = "Free-form JSON object, kept as given." });
            options.SupportNonNullableReferenceTypes();
            options.OperationFilter<JsonBodies>();
            options.OperationFilter<ProblemExamples>();
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
            swagger => swagger.UseSwagger().UseSwaggerUI(options =>
            {
                options.SwaggerEndpoint("/swagger/v1/swagger.json", "OrderCancel v1");
                options.DocumentTitle = "OrderCancel API";
                options.EnablePersistAuthorization();
                options.DisplayRequestDuration();
            }));
        return app;
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

    /// <summary>Lists, under each problem response, the codes that status can carry, with an example body.</summary>
    private sealed class ProblemExamples : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            foreach (var (statusText, response) in operation.Responses ?? [])
            {
                if (!int.TryParse(statusText, out var status) || status < 400 || response is not OpenApiResponse concrete)
                {
                    continue;
                }

                var codes = Problems.Codes.Where(pair => pair.Value.Status == status).Select(pair => pair.Key).ToList();
                if (codes.Count == 0)
                {
                    continue;
                }

                concrete.Description = $"Problem details; `code` is one of: {string.Join(", ", codes.Select(c => $"`{c}`"))}.";
                foreach (var media in concrete.Content?.Values ?? [])
                {
                    if (media is OpenApiMediaType mediaType)
                    {
                        var example = Problems.Create(codes[0], "A sentence for people; branch on code.");
                        example.Extensions["trace_id"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
                        mediaType.Example = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(example, Json.Options));
                    }
                }
            }
        }
    }
}
