using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrderCancel.Api.Http;

namespace OrderCancel.Api.Webhooks;

/// <summary>The Standard Webhooks wire format: the body, and <c>v1,</c> + base64 HMAC-SHA256 of <c>id.timestamp.body</c>.</summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    /// <summary><c>{"id","type","timestamp","data"}</c>; the same bytes on every attempt.</summary>
    public static byte[] Body(Guid eventId, string type, DateTimeOffset occurredAt, string data)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", eventId);
            writer.WriteString("type", type);
            writer.WritePropertyName("timestamp");
            JsonSerializer.Serialize(writer, occurredAt, Json.Options);
            writer.WritePropertyName("data");
            writer.WriteRawValue(data, skipInputValidation: true);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static string Sign(string secret, string messageId, long timestamp, ReadOnlySpan<byte> body)
    {
        var key = Convert.FromBase64String(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{messageId}.{timestamp}."));
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }
}

/// <summary>When to try again: the first retry after the configured delay, each later one ×4 (±20 %), at most 6 h.</summary>
public static class RetrySchedule
{
    /// <param name="failedAttempts">Attempts made so far, all failed (1 after the first failure).</param>
    /// <param name="jitter">A number in [0, 1) that spreads retries of many deliveries apart.</param>
    public static TimeSpan Delay(int failedAttempts, TimeSpan firstDelay, double jitter)
    {
        var exponent = Math.Min(Math.Max(failedAttempts - 1, 0), 20);
        var nominal = Math.Min(firstDelay.TotalMilliseconds * Math.Pow(4, exponent), WebhookOptions.MaxRetryDelay.TotalMilliseconds);
        var spread = nominal * (0.8 + (0.4 * jitter));
        return TimeSpan.FromMilliseconds(Math.Min(spread, WebhookOptions.MaxRetryDelay.TotalMilliseconds));
    }
}
