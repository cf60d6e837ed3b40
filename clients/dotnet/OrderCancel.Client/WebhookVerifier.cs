using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Kiota.Serialization.Json;
using OrderCancel.Client.Models;

namespace OrderCancel.Client;

/// <summary>
/// Checks a webhook delivery as Standard Webhooks says, then reads it: <c>webhook-signature</c> must hold a <c>v1,</c>
/// HMAC-SHA256 of <c>webhook-id.webhook-timestamp.body</c> under one of your secrets (give both during a rotation's
/// overlap, and a delivery signed with either passes), and <c>webhook-timestamp</c> must be within the tolerance of now
/// (default 5 minutes, either way), so a captured delivery cannot be replayed later. Verify the body's bytes as they
/// arrived, before parsing them. Dedupe on <see cref="WebhookEvent.WebhookId"/>: delivery is at least once.
/// </summary>
public sealed class WebhookVerifier
{
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    private const string SecretPrefix = "whsec_";
    private readonly byte[][] _keys;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _time;

    /// <summary>A verifier for the endpoint's secrets (<c>whsec_…</c>, as registering or rotating answered them).</summary>
    public WebhookVerifier(params string[] secrets)
        : this(secrets, DefaultTolerance, TimeProvider.System)
    {
    }

    public WebhookVerifier(IEnumerable<string> secrets, TimeSpan tolerance, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        _keys = [.. secrets.Select(Key)];
        if (_keys.Length == 0)
        {
            throw new ArgumentException("Give at least one secret.", nameof(secrets));
        }

        _tolerance = tolerance;
        _time = time;
    }

    /// <summary>The delivery's event, once its signature and timestamp check out; else a <see cref="WebhookVerificationException"/>.</summary>
    /// <param name="header">The delivery's header by name (e.g. <c>name => request.Headers[name]</c> in ASP.NET Core).</param>
    public WebhookEvent Verify(Func<string, string?> header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(header);
        var id = header("webhook-id");
        var timestamp = header("webhook-timestamp");
        var signatures = header("webhook-signature");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures))
        {
            throw new WebhookVerificationException("The delivery lacks webhook-id, webhook-timestamp or webhook-signature.");
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            throw new WebhookVerificationException("webhook-timestamp is not a number of seconds.");
        }

        var sentAt = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253_402_300_799));
        if ((_time.GetUtcNow() - sentAt).Duration() > _tolerance)
        {
            throw new WebhookVerificationException($"webhook-timestamp is {sentAt:O}, outside the tolerance of {_tolerance} from now.");
        }

        var signed = Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(body.ToArray()).ToArray();
        var expected = _keys.Select(key => HMACSHA256.HashData(key, signed)).ToList();
        foreach (var signature in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (signature.StartsWith("v1,", StringComparison.Ordinal) && Base64(signature[3..]) is { } given
                && expected.Exists(hash => CryptographicOperations.FixedTimeEquals(hash, given)))
            {
                return WebhookEvent.Read(id, body);
            }
        }

        throw new WebhookVerificationException("No webhook-signature matches a secret: the body or a header was changed, or the secret is not this endpoint's.");
    }

    /// <summary>The same, from headers as name-value pairs (names in any case).</summary>
    public WebhookEvent Verify(IEnumerable<KeyValuePair<string, string>> headers, ReadOnlySpan<byte> body)
    {
        var byName = headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
        return Verify(name => byName.GetValueOrDefault(name), body);
    }

    private static byte[] Key(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        return Base64(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret)
            ?? throw new ArgumentException("A secret is whsec_ and base64.", nameof(secret));
    }

    private static byte[]? Base64(string text)
    {
        var bytes = new byte[((text.Length + 3) / 4) * 3];
        return Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : null;
    }
}

/// <summary>A delivery refused by <see cref="WebhookVerifier"/>: answer it 4xx and do not act on it.</summary>
public sealed class WebhookVerificationException : Exception
{
    public WebhookVerificationException()
    {
    }

    public WebhookVerificationException(string message)
        : base(message)
    {
    }

    public WebhookVerificationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A verified delivery: its event (<see cref="EventId"/>, <see cref="Type"/>, <see cref="Timestamp"/>) and its data,
/// typed by kind: <see cref="Order"/> for <c>order.*</c>, <see cref="Job"/> for <c>cancellation_job.*</c>,
/// <see cref="Settings"/> and <see cref="PreviousSettings"/> for <c>partner.settings_changed</c>.
/// </summary>
public sealed record WebhookEvent(
    string WebhookId,
    Guid EventId,
    string Type,
    DateTimeOffset Timestamp,
    OrderResponse? Order,
    CancellationJobResponse? Job,
    SettingsResponse? Settings,
    SettingsResponse? PreviousSettings)
{
    internal static WebhookEvent Read(string webhookId, ReadOnlySpan<byte> body)
    {
        JsonElement root;
        string type;
        try
        {
            root = JsonSerializer.Deserialize<JsonElement>(body);
            type = root.GetProperty("type").GetString() ?? "";
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new WebhookVerificationException("The signed body is not a webhook message.", exception);
        }

        var node = new JsonParseNode(root);
        if (type.StartsWith("cancellation_job.", StringComparison.Ordinal))
        {
            var job = node.GetObjectValue(JobWebhookMessage.CreateFromDiscriminatorValue);
            return new WebhookEvent(webhookId, job?.Id ?? Guid.Empty, type, job?.Timestamp ?? default, null, job?.Data?.Job, null, null);
        }

        if (type.StartsWith("partner.", StringComparison.Ordinal))
        {
            var settings = node.GetObjectValue(SettingsWebhookMessage.CreateFromDiscriminatorValue);
            return new WebhookEvent(webhookId, settings?.Id ?? Guid.Empty, type, settings?.Timestamp ?? default, null, null, settings?.Data?.Settings, settings?.Data?.Previous);
        }

        var order = node.GetObjectValue(WebhookMessage.CreateFromDiscriminatorValue);
        return new WebhookEvent(webhookId, order?.Id ?? Guid.Empty, type, order?.Timestamp ?? default, order?.Data?.Order, null, null, null);
    }
}
