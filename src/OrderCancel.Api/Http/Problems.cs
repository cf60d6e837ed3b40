using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrderCancel.Domain;

namespace OrderCancel.Api.Http;

/// <summary>Problem details (RFC 9457) with the stable <c>code</c> of SPEC §6; the one code → status mapping.</summary>
public static class Problems
{
    public const string TypeBase = "https://ordercancel.dev/problems/";

    private static readonly Dictionary<string, (int Status, string Title)> Known = new(StringComparer.Ordinal)
    {
        ["malformed_json"] = (400, "The body is not a JSON object"),
        ["validation_failed"] = (422, "The request has invalid properties"),
        ["unauthenticated"] = (401, "Missing, unknown or revoked API key"),
        ["forbidden"] = (403, "This key may not use this route"),
        ["test_endpoints_disabled"] = (403, "Test endpoints are disabled in production"),
        ["order_not_found"] = (404, "Order not found"),
        ["not_found"] = (404, "Not found"),
        ["method_not_allowed"] = (405, "Method not allowed"),
        ["bad_request"] = (400, "The request could not be read"),
        ["order_already_paid"] = (400, "The order has already been paid"),
        ["order_already_cancelled"] = (400, "The order is already cancelled"),
        ["order_not_cancelled"] = (400, "The order is not cancelled"),
        ["order_not_payable"] = (400, "The order cannot be paid"),
        ["line_not_found"] = (400, "Line not found"),
        ["quantity_exceeds_remaining"] = (400, "Quantity exceeds what remains"),
        ["cancellation_already_scheduled"] = (400, "A cancellation is already scheduled"),
        ["reactivation_already_scheduled"] = (400, "A reactivation is already scheduled"),
        ["no_scheduled_cancellation"] = (400, "No cancellation is scheduled"),
        ["no_scheduled_reactivation"] = (400, "No reactivation is scheduled"),
        ["nothing_to_cancel"] = (400, "Nothing of that SKU remains on the order"),
        ["cancellation_window_closed"] = (400, "The partner's cancellation window for this order has closed"),
        ["endpoint_disabled"] = (400, "The webhook endpoint is disabled"),
        ["pending_delivery_limit_reached"] = (400, "The webhook endpoint has as many pending deliveries as it may"),
        ["webhook_endpoint_limit_reached"] = (400, "The partner has as many webhook endpoints as it may"),
        ["cursor_expired"] = (410, "The cursor is older than what the feed keeps"),
        ["duplicate_reference"] = (409, "An order with this reference exists"),
        ["idempotency_key_in_use"] = (409, "A request with this idempotency key is still running"),
        ["version_mismatch"] = (412, "It has changed since the version you sent"),
        ["request_timeout"] = (408, "The body arrived too slowly"),
        ["payload_too_large"] = (413, "The body is larger than 1 MiB"),
        ["unsupported_media_type"] = (415, "The body must be application/json"),
        ["uri_too_long"] = (414, "The request line is too long"),
        ["request_header_fields_too_large"] = (431, "The request headers are too large"),
        ["idempotency_key_reused"] = (422, "The idempotency key was used for another request"),
        ["rate_limited"] = (429, "Too many requests"),
        ["internal_error"] = (500, "Something went wrong on our side"),
        ["unavailable"] = (503, "The service is temporarily unavailable"),
    };

    /// <summary>The detail of refusals that say the same thing wherever they are answered (body reading, the exception handler, the framework).</summary>
    private static readonly Dictionary<string, string> StandardDetails = new(StringComparer.Ordinal)
    {
        ["payload_too_large"] = $"The body may be at most {RequestLimits.MaxBodyBytes} bytes.",
        ["request_timeout"] = "The body arrived more slowly than the server's minimum rate; send it again.",
        ["unsupported_media_type"] = "Send the body as application/json.",
        ["uri_too_long"] = $"The request line (method, path and query string, version) may be at most {RequestLimits.MaxRequestLineBytes} bytes.",
        ["request_header_fields_too_large"] = $"The request may carry at most {RequestLimits.MaxHeaderCount} header lines of at most "
            + $"{RequestLimits.MaxHeaderBytes} bytes together.",
        ["internal_error"] = "An unexpected error occurred. Quote the trace_id when reporting it.",
        ["unavailable"] = "The database cannot be reached; try again shortly.",
    };

    /// <summary>The codes clients can branch on, for documentation.</summary>
    public static IReadOnlyDictionary<string, (int Status, string Title)> Codes => Known;

    public static int StatusOf(string code) => Known.TryGetValue(code, out var known) ? known.Status : 400;

    /// <param name="detail">What to fix; without one, the code's standard detail, else its title.</param>
    public static ProblemDetails Create(string code, string? detail = null, IDictionary<string, string[]>? errors = null)
    {
        var (status, title) = Known.TryGetValue(code, out var known) ? known : (400, code);
        var problem = new ProblemDetails
        {
            Type = TypeBase + code,
            Title = title,
            Status = status,
            // The document promises every problem a detail; the title says it when nothing more specific does.
            Detail = detail ?? StandardDetails.GetValueOrDefault(code) ?? title,
        };
        problem.Extensions["code"] = code;
        problem.Extensions["trace_id"] = Activity.Current?.Id;
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }

        return problem;
    }

    public static ProblemHttpResult Result(string code, string? detail = null, IDictionary<string, string[]>? errors = null) =>
        TypedResults.Problem(Create(code, detail, errors));

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        Result("validation_failed", "See errors for the properties to fix.", errors);

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>A refusal from the domain: a property problem is a 422, a state rule a 400.</summary>
    public static ProblemHttpResult From(DomainError error) =>
        error.IsValidation ? Validation(error.Field!, error.Message) : Result(error.Code, error.Message);

    public static ProblemHttpResult OrderNotFound(long id) => Result("order_not_found", $"Order {id} not found.");

    /// <summary>
    /// Answers the framework writes itself (no route matches, a method the route does not take, a request it could not
    /// bind) become problems of ours: our <c>type</c>, <c>code</c>, title and a detail written for the partner.
    /// </summary>
    public static void CompleteFrameworkProblem(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Extensions.TryAdd("trace_id", Activity.Current?.Id);
        if (problem.Extensions.ContainsKey("code"))
        {
            return;
        }

        var request = context.HttpContext.Request;
        var (code, detail) = problem.Status switch
        {
            StatusCodes.Status404NotFound => ("not_found", $"Nothing is at {request.Method} {request.Path}; see /swagger for the routes (order ids are whole numbers)."),
            StatusCodes.Status405MethodNotAllowed => ("method_not_allowed", $"{request.Path} does not take {request.Method}; see /swagger for the methods it takes."),
            StatusCodes.Status413PayloadTooLarge => ("payload_too_large", StandardDetails["payload_too_large"]),
            StatusCodes.Status415UnsupportedMediaType => ("unsupported_media_type", StandardDetails["unsupported_media_type"]),
            StatusCodes.Status500InternalServerError => ("internal_error", StandardDetails["internal_error"]),
            _ => ("bad_request", "The request could not be read; check its path, query string and headers against /swagger."),
        };
        var known = Known[code];
        problem.Type = TypeBase + code;
        problem.Title = known.Title;
        problem.Detail = detail;
        problem.Extensions["code"] = code;
    }
}
