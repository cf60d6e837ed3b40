using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Http;

/// <summary>
/// <c>Idempotency-Key</c> on POST and DELETE (SPEC §8, after the IETF draft and Stripe): the first answer is
/// kept 24 h per caller and key, and a retry of the same request gets it again with
/// <c>Idempotent-Replayed: true</c>. The same key on another request is a 422; while the first runs, a 409.
/// 5xx answers are not kept, so a retry runs again.
/// </summary>
public sealed class Idempotency(RequestDelegate next)
{
    public const string Header = "Idempotency-Key";
    public const int MaxKeyLength = 255;
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    /// <summary>A first request that has been running this long is taken to have died with its instance.</summary>
    public static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(2);

    public async Task InvokeAsync(HttpContext context, OrdersDbContext db, TimeProvider clock)
    {
        var request = context.Request;
        if (!(HttpMethods.IsPost(request.Method) || HttpMethods.IsDelete(request.Method))
            || !request.Headers.TryGetValue(Header, out var values)
            || ScopeOf(context.User) is not { } scope)
        {
            await next(context);
            return;
        }

        var key = values.ToString();
        if (key.Length is 0 or > MaxKeyLength)
        {
            await Write(context, Problems.Validation(Header, $"Must be 1 to {MaxKeyLength} characters."));
            return;
        }

        var body = await RequestBody.ReadAsync(context);
        var fingerprint = Fingerprint(request, body);
        var now = clock.GetUtcNow();
        if (!await ClaimAsync(db, scope, key, fingerprint, now, context.RequestAborted))
        {
            var existing = await db.IdempotencyRecords.AsNoTracking()
                .SingleAsync(r => r.Scope == scope && r.Key == key, context.RequestAborted);
            await Write(context, !existing.Fingerprint.AsSpan().SequenceEqual(fingerprint)
                ? Problems.Result("idempotency_key_reused", "This Idempotency-Key was used for a different request; use a new key.")
                : existing.Status is null
                    ? Problems.Result("idempotency_key_in_use", "The first request with this Idempotency-Key is still running; retry shortly.")
                    : new Replay(existing));
            return;
        }

        await RunAndKeepAsync(context, db, scope, key);
    }

    /// <summary>Deletes answers older than 24 h; the purge job calls it.</summary>
    public static Task<int> PurgeExpiredAsync(OrdersDbContext db, DateTimeOffset now, CancellationToken cancellation) =>
        db.IdempotencyRecords.Where(r => r.ExpiresAt < now).ExecuteDeleteAsync(cancellation);

    private async Task RunAndKeepAsync(HttpContext context, OrdersDbContext db, string scope, string key)
    {
        var original = context.Response.Body;
        using var captured = new MemoryStream();
        context.Response.Body = captured;
        var kept = false;
        try
        {
            await next(context);
            var response = context.Response;
            if (response.StatusCode < 500)
            {
                await db.IdempotencyRecords
                    .Where(r => r.Scope == scope && r.Key == key)
                    .ExecuteUpdateAsync(
                        set => set
                            .SetProperty(r => r.Status, response.StatusCode)
                            .SetProperty(r => r.ContentType, response.ContentType)
                            .SetProperty(r => r.Location, response.Headers.Location.ToString())
                            .SetProperty(r => r.ETag, response.Headers.ETag.ToString())
                            .SetProperty(r => r.Body, captured.ToArray()),
                        CancellationToken.None);
                kept = true;
            }
        }
        finally
        {
            if (!kept)
            {
                await db.IdempotencyRecords.Where(r => r.Scope == scope && r.Key == key).ExecuteDeleteAsync(CancellationToken.None);
            }

            context.Response.Body = original;
            captured.Position = 0;
            await captured.CopyToAsync(original, CancellationToken.None);
        }
    }

    /// <summary>Inserts the key as in progress; false when it exists already (an abandoned or expired one is replaced).</summary>
    private static async Task<bool> ClaimAsync(OrdersDbContext db, string scope, string key, byte[] fingerprint, DateTimeOffset now, CancellationToken cancellation)
    {
        var expires = now + Retention;
        var stale = now - Abandoned;
        var claimed = await db.Database.ExecuteSqlAsync($"""
            INSERT INTO idempotency_keys (scope, key, fingerprint, created_at, expires_at)
            VALUES ({scope}, {key}, {fingerprint}, {now}, {expires})
            ON CONFLICT (scope, key) DO UPDATE
                SET fingerprint = excluded.fingerprint, created_at = excluded.created_at, expires_at = excluded.expires_at,
                    status = NULL, content_type = NULL, location = NULL, e_tag = NULL, body = NULL
                WHERE idempotency_keys.expires_at < {now}
                   OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < {stale})
            """, cancellation);
        return claimed == 1;
    }

    private static string? ScopeOf(ClaimsPrincipal user) =>
        user.IsInRole(Callers.AdminRole) ? "admin" : user.FindFirstValue(Callers.PartnerIdClaim);

    private static byte[] Fingerprint(HttpRequest request, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    private static Task Write(HttpContext context, IResult result) => result.ExecuteAsync(context);

    /// <summary>The kept answer, sent again byte for byte.</summary>
    private sealed class Replay(IdempotencyRecord record) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = record.Status!.Value;
            response.Headers["Idempotent-Replayed"] = "true";
            if (!string.IsNullOrEmpty(record.ContentType))
            {
                response.ContentType = record.ContentType;
            }

            if (!string.IsNullOrEmpty(record.Location))
            {
                response.Headers.Location = record.Location;
            }

            if (!string.IsNullOrEmpty(record.ETag))
            {
                response.Headers[HeaderNames.ETag] = record.ETag;
            }

            if (record.Body is { Length: > 0 } body)
            {
                await response.Body.WriteAsync(body, httpContext.RequestAborted);
            }
        }
    }
}
