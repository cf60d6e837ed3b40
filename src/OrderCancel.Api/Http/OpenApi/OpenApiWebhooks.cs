using Microsoft.OpenApi;
using OrderCancel.Api.Webhooks;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OrderCancel.Api.Http;

/// <summary>
/// The webhook deliveries a registered endpoint receives (SPEC §9), as OpenAPI 3.1 <c>webhooks</c>: one entry per event
/// type, each the same payload (<see cref="WebhookMessage"/>, a named schema generators produce a type for) with the
/// Standard Webhooks headers.
/// </summary>
public sealed class OpenApiWebhooks : IDocumentFilter
{
    private static readonly Dictionary<string, string> WhenSent = new(StringComparer.Ordinal)
    {
        ["order.created"] = "An order was created.",
        ["order.paid"] = "A pending one-time order was paid.",
        ["order.cancelled"] = "An order became cancelled: a full cancellation, a partial one that left nothing, a scheduled one applied, or a test cancel.",
        ["order.partially_cancelled"] = "Some quantities were cancelled; the order keeps its status.",
        ["order.cancellation_scheduled"] = "A cancellation was scheduled for a later day.",
        ["order.cancellation_unscheduled"] = "A scheduled cancellation was taken back.",
        ["order.scheduled_cancellation_failed"] = "A scheduled cancellation was due but a state rule refused it; `data.code` says which.",
        ["order.reactivated"] = "A cancelled order was reactivated.",
        ["order.reactivation_scheduled"] = "A reactivation was scheduled for a later day.",
        ["order.reactivation_unscheduled"] = "A scheduled reactivation was taken back.",
        ["cancellation_job.completed"] = "A cancellation job went through every order it covers; `data.job` has its final counts.",
        ["cancellation_job.stopped"] = "A cancellation job was stopped; `data.job` has the counts of what it did before.",
        ["partner.settings_changed"] = "Your settings changed (PATCH /v1/settings, or the admin's); `data.settings` as they are now, `data.previous` as they were.",
    };

    public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
    {
        var orderMessage = context.SchemaGenerator.GenerateSchema(typeof(WebhookMessage), context.SchemaRepository);
        var jobMessage = context.SchemaGenerator.GenerateSchema(typeof(CancellationJobs.JobWebhookMessage), context.SchemaRepository);
        var settingsMessage = context.SchemaGenerator.GenerateSchema(typeof(Settings.SettingsWebhookMessage), context.SchemaRepository);
        swaggerDoc.Webhooks = EventTypes.All.ToDictionary(
            type => type,
            type => (IOpenApiPathItem)new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Post] = Receive(type, MessageOf(type, orderMessage, jobMessage, settingsMessage)),
                },
            },
            StringComparer.Ordinal);
    }

    private static IOpenApiSchema MessageOf(string type, IOpenApiSchema order, IOpenApiSchema job, IOpenApiSchema settings) =>
        CancellationJobs.CancellationJobEvents.All.Contains(type) ? job
        : Settings.SettingsEndpoints.Events.Contains(type) ? settings
        : order;

    private static OpenApiOperation Receive(string type, IOpenApiSchema message) => new()
    {
        OperationId = "On" + string.Concat(type.Split('.', '_').Select(word => char.ToUpperInvariant(word[0]) + word[1..])),
        Summary = $"{type}: {WhenSent.GetValueOrDefault(type, "An event.")}",
        Description = $"POSTed to the `url` of each endpoint subscribed to `{type}` or `*`, with `type: {type}`, at least once: deduplicate on `webhook-id` "
            + "(the event's id, the same on every attempt). Verify `webhook-signature` before trusting the body: base64 "
            + "HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of your secret "
            + "after `whsec_`; reject timestamps far from now. A failed attempt is retried with exponential backoff for 24 h.",
        Tags = new HashSet<OpenApiTagReference> { new("Webhooks") },
        Parameters =
        [
            Header("webhook-id", "The event's id; the same on every attempt.", "uuid"),
            Header("webhook-timestamp", "Unix seconds when this attempt was sent.", null),
            Header("webhook-signature", "`v1,<base64>`; during 24 h after a secret rotation two, space-separated (old, new).", null),
        ],
        RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = message } },
        },
        Responses = new OpenApiResponses
        {
            ["200"] = new OpenApiResponse { Description = "Any 2xx acknowledges the event; the delivery is `succeeded`." },
            ["410"] = new OpenApiResponse { Description = "Gone: the endpoint is disabled (`enabled: false`) and receives nothing more." },
            ["429"] = new OpenApiResponse { Description = "Too busy: retried after your `Retry-After` (seconds or a date), else by backoff." },
            ["503"] = new OpenApiResponse { Description = "Unavailable: retried after your `Retry-After`, else by backoff." },
        },
        Security = [],
    };

    private static OpenApiParameter Header(string name, string description, string? format) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = true,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = format },
    };
}
