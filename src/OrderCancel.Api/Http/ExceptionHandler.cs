using System.Net.Sockets;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace OrderCancel.Api.Http;

/// <summary>
/// Turns what escaped a handler into a problem: edge refusals keep their code, a lost database is a 503
/// with <c>Retry-After</c>, anything else a 500 that reveals nothing internal.
/// </summary>
public sealed class ExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            return true; // The client left; there is nobody to answer.
        }

        var problem = exception switch
        {
            ProblemException refused => refused.Problem,
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                Problems.Create("payload_too_large", $"The body may be at most {RequestLimits.MaxBodyBytes} bytes."),
            BadHttpRequestException bad => Problems.Create("malformed_json", bad.Message),
            _ when IsDatabaseUnavailable(exception) => Problems.Create("unavailable", "The database cannot be reached; try again shortly."),
            _ => null,
        };

        // The request log records the exception itself; the client gets nothing internal.
        problem ??= Problems.Create("internal_error", "An unexpected error occurred. Quote the trace_id when reporting it.");
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "5";
        }

        httpContext.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        await TypedResults.Problem(problem).ExecuteAsync(httpContext);
        return true;
    }

    public static bool IsDatabaseUnavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    return postgres.IsTransient;
                case NpgsqlException or SocketException or TimeoutException:
                    return true;
                default:
                    break;
            }
        }

        return false;
    }
}
