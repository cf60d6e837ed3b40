using System.Buffers;
using System.Text.Unicode;
using Microsoft.AspNetCore.Mvc;

namespace OrderCancel.Api.Http;

/// <summary>A request body as read: its bytes, and the problem that refused it before anything parsed it, if any.</summary>
/// <param name="Whole">The body was read to its end, so its bytes say which request this is (idempotency fingerprints).</param>
public sealed record ReadBody(byte[] Bytes, bool Whole, ProblemDetails? Refusal);

/// <summary>
/// Reads a request's body once, at most 1 MiB (413 past that, announced or not), and keeps what it found for
/// whoever asks next: the idempotency fingerprint and the JSON binding share one read. A body that cannot be
/// read (too large, too slow, cut off, not UTF-8) is answered as a value, never thrown through the pipeline.
/// </summary>
public static class RequestBody
{
    private static readonly object Key = new();

    public static async ValueTask<ReadBody> ReadAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var kept))
        {
            return (ReadBody)kept!;
        }

        var read = await ReadOnceAsync(context);
        context.Items[Key] = read;
        return read;
    }

    private static async ValueTask<ReadBody> ReadOnceAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength > RequestLimits.MaxBodyBytes)
        {
            return TooLarge();
        }

        // Read at most one byte past the limit, so a chunked body cannot make us buffer more.
        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is { } length and > 0 ? (int)length : 256);
        try
        {
            while (true)
            {
                var read = await request.Body.ReadAsync(buffer.GetMemory(4096), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > RequestLimits.MaxBodyBytes)
                {
                    return TooLarge();
                }
            }
        }
        catch (BadHttpRequestException bad)
        {
            // Kestrel's own refusals of a body: over its size limit, slower than its minimum rate, or cut short.
            return bad.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => TooLarge(),
                StatusCodes.Status408RequestTimeout => Refused("request_timeout"),
                _ => Refused("malformed_json", "The body ended before its announced length; send it again whole."),
            };
        }

        var bytes = buffer.WrittenSpan.ToArray();
        return new ReadBody(bytes, Whole: true, Utf8.IsValid(bytes) ? null : Problems.Create("malformed_json", "The body is not valid UTF-8."));
    }

    private static ReadBody TooLarge() => Refused("payload_too_large");

    private static ReadBody Refused(string code, string? detail = null) => new([], Whole: false, Problems.Create(code, detail));
}
