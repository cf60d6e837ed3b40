using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace OrderCancel.Api.Http;

/// <summary>
/// How large a request may be, and the answers past that: 413 for the body (SPEC §6), 414 <c>uri_too_long</c> for the
/// request line, 431 <c>request_header_fields_too_large</c> for the headers. Kestrel refuses an oversized request head
/// before any middleware runs, with a bare status and no body, and that answer cannot be changed (aspnet/KestrelHttpServer#2947).
/// So Kestrel's own limits are raised to a ceiling, and the limits a client meets (Kestrel's defaults, so nothing that was
/// answered before is refused now, nor the reverse) are checked here, where the answer is our problem. Only a head past
/// the ceiling still gets Kestrel's bare 414 or 431.
/// </summary>
public static class RequestLimits
{
    /// <summary>SPEC §6: a larger body is a 413.</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>The request line (method, target, version), as Kestrel's default.</summary>
    public const int MaxRequestLineBytes = 8 * 1024;

    /// <summary>All header lines together, as Kestrel's default.</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>Header lines, as Kestrel's default.</summary>
    public const int MaxHeaderCount = 100;

    /// <summary>
    /// Where Kestrel itself refuses, with a bare status. A head is buffered whole before it is parsed, so the ceiling
    /// bounds the memory a connection can hold with one (Kestrel's defaults above cost 40 KiB; these 128 KiB).
    /// </summary>
    private const int KestrelRequestLineBytes = 64 * 1024;

    private const int KestrelHeaderBytes = 64 * 1024;

    private const int KestrelHeaderCount = 1_000;

    public static void Configure(KestrelServerOptions kestrel)
    {
        kestrel.Limits.MaxRequestBodySize = MaxBodyBytes;
        kestrel.Limits.MaxRequestLineSize = KestrelRequestLineBytes;
        kestrel.Limits.MaxRequestHeadersTotalSize = KestrelHeaderBytes;
        kestrel.Limits.MaxRequestHeaderCount = KestrelHeaderCount;
    }

    /// <summary>Answers a request whose line or headers are over the limits with its problem, before anything reads it.</summary>
    public static IApplicationBuilder UseRequestHeadLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (Refusal(context) is { } code)
        {
            await Problems.Result(code).ExecuteAsync(context);
            return;
        }

        await next(context);
    });

    /// <summary>Measures as Kestrel does for HTTP/1.1: every byte of the line and of each header line, CRLF included.</summary>
    private static string? Refusal(HttpContext context)
    {
        var request = context.Features.GetRequiredFeature<IHttpRequestFeature>();
        var line = request.Method.Length + 1 + Encoding.UTF8.GetByteCount(request.RawTarget) + 1 + request.Protocol.Length + 2;
        if (line > MaxRequestLineBytes)
        {
            return "uri_too_long";
        }

        var count = 0;
        var bytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                count++;
                bytes += name.Length + 2 + Encoding.UTF8.GetByteCount(value ?? "") + 2;
            }
        }

        return count > MaxHeaderCount || bytes > MaxHeaderBytes ? "request_header_fields_too_large" : null;
    }
}
