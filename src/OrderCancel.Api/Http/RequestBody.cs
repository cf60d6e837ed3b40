using System.Buffers;

namespace OrderCancel.Api.Http;

/// <summary>
/// Reads a request's body once, at most 1 MiB (413 past that, announced or not), and keeps the bytes for
/// whoever asks next: the idempotency fingerprint and the JSON binding share one read.
/// </summary>
public static class RequestBody
{
    private static readonly object Key = new();

    public static async ValueTask<byte[]> ReadAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var kept))
        {
            return (byte[])kept!;
        }

        var request = context.Request;
        if (request.ContentLength > RequestLimits.MaxBodyBytes)
        {
            throw TooLarge();
        }

        // Read at most one byte past the limit, so a chunked body cannot make us buffer more.
        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is { } length and > 0 ? (int)length : 256);
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
                throw TooLarge();
            }
        }

        var bytes = buffer.WrittenSpan.ToArray();
        context.Items[Key] = bytes;
        return bytes;
    }

    private static ProblemException TooLarge() =>
        ProblemException.Of("payload_too_large", $"The body may be at most {RequestLimits.MaxBodyBytes} bytes.");
}
