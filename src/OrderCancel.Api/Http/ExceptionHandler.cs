using Microsoft.AspNetCore.Diagnostics;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Http;

/// <summary>
/// Turns what escaped a handler into a problem: a lost database is a 503 with <c>Retry-After</c> (the outage is
/// logged once, not per request), a client that went away is recorded as 499 with nobody to answer, and anything
/// else is a bug: a 500 that reveals nothing internal, logged here with its stack trace.
/// </summary>
public sealed class ExceptionHandler(DatabaseOutage outage, ILogger<ExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>Not an HTTP status a client sees: the request log's name for "the client closed the request" (as nginx's).</summary>
    public const int ClientClosedRequest = 499;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            httpContext.Response.StatusCode = ClientClosedRequest;
            return true;
        }

        Microsoft.AspNetCore.Mvc.ProblemDetails problem;
        if (exception is BadHttpRequestException bad)
        {
            // The framework's own binding refusals (ours are values; see JsonBody): the client's fault, not a bug.
            problem = bad.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => Problems.Create("payload_too_large"),
                StatusCodes.Status408RequestTimeout => Problems.Create("request_timeout"),
                _ => Problems.Create("malformed_json", "The request could not be read."),
            };
        }
        else if (DatabaseOutage.IsUnavailable(exception))
        {
            outage.Report(exception);
            httpContext.Response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds;
            problem = Problems.Create("unavailable");
        }
        else
        {
            logger.LogError(exception, "Unexpected fault answering {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            problem = Problems.Create("internal_error");
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        await TypedResults.Problem(problem).ExecuteAsync(httpContext);
        return true;
    }
}
