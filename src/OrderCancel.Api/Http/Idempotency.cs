using System.Data;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;
using Npgsql;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Http;

/// <summary>
/// <c>Idempotency-Key</c> on POST and DELETE (SPEC §8, after the IETF draft and Stripe): the first answer is
/// kept 24 h per caller and key, and a retry of the same request gets it again with
/// <c>Idempotent-Replayed: true</c>. The same key on another request is a 422; while the first runs, a 409.
/// </summary>
/// <remarks>
/// The request runs inside one transaction that holds a transaction-scoped advisory lock on the key and, before
/// it commits, also writes the answer: the change and the answer it got commit together or not at all. A crash at
/// any instant therefore leaves either both (a retry replays) or neither (a retry runs for the first time, and
/// nothing holds the key: the lock died with the connection). Refusals (4xx) are answers too and are kept, after
/// whatever the handler wrote is rolled back to a savepoint; 5xx answers roll everything back and keep nothing.
/// </remarks>
public sealed class Idempotency(RequestDelegate next)
{
    public const string Header = "Idempotency-Key";
    public const int MaxKeyLength = 255;
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    private const string Savepoint = "idempotent_request";

    public async Task InvokeAsync(HttpContext context, OrdersDbContext db, TimeProvider clock, Telemetry.OrderCancelMetrics metrics)
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
            await Problems.Validation(Header, $"Must be 1 to {MaxKeyLength} characters.").ExecuteAsync(context);
            return;
        }

        var body = await RequestBody.ReadAsync(context);
        if (body is { Whole: false, Refusal: { } unread })
        {
            // Too large, too slow or cut short: without the whole body there is no request to recognise on a retry.
            await TypedResults.Problem(unread).ExecuteAsync(context);
            return;
        }

        var fingerprint = Fingerprint(request, body.Bytes);
        var now = clock.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(context.RequestAborted);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var claim = await ClaimAsync(connection, scope, key, now, context.RequestAborted);
        if (claim is null)
        {
            await Problems.Result("idempotency_key_in_use", "The first request with this Idempotency-Key is still running; retry shortly.")
                .ExecuteAsync(context);
            return;
        }

        if (claim.Kept is { } kept)
        {
            var replay = kept.Fingerprint.AsSpan().SequenceEqual(fingerprint);
            if (replay)
            {
                metrics.IdempotentReplay();
            }

            await (replay
                    ? (IResult)new Replay(kept)
                    : Problems.Result("idempotency_key_reused", "This Idempotency-Key was used for a different request; use a new key."))
                .ExecuteAsync(context);
            return;
        }

        await transaction.CreateSavepointAsync(Savepoint, context.RequestAborted);
        var original = context.Response.Body;
        using var captured = new MemoryStream();
        context.Response.Body = captured;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        var response = context.Response;
        if (response.StatusCode < 500)
        {
            // A handler can answer although the database went away under it: EF Core ignores a failure to release the
            // savepoint it takes around SaveChanges in a transaction of ours. The transaction, and the change with it, is
            // lost, and the next command on the broken connection would throw as a bug does (a 500, seen when a failover
            // killed the primary: FailoverTests). So it is the lost database's 503, and the retry with the key makes the change.
            if (connection.FullState != ConnectionState.Open)
            {
                throw new NpgsqlException($"The connection to the database broke while the request ran ({connection.FullState}).");
            }

            if (response.StatusCode >= 400)
            {
                await transaction.RollbackToSavepointAsync(Savepoint, CancellationToken.None);
            }

            // Once the handler has answered, its answer is kept even if the client has gone: a retry then replays it.
            await KeepAsync(connection, new IdempotencyRecord
            {
                Scope = scope,
                Key = key,
                Fingerprint = fingerprint,
                Status = response.StatusCode,
                ContentType = response.ContentType,
                Location = NullIfEmpty(response.Headers.Location),
                ETag = NullIfEmpty(response.Headers.ETag),
                Body = captured.ToArray(),
                CreatedAt = now,
                ExpiresAt = now + Retention,
            });
            await transaction.CommitAsync(CancellationToken.None);
        }

        captured.Position = 0;
        await captured.CopyToAsync(original, CancellationToken.None);
    }

    /// <summary>Deletes answers older than 24 h; the purge job calls it.</summary>
    public static Task<int> PurgeExpiredAsync(OrdersDbContext db, DateTimeOffset now, CancellationToken cancellation) =>
        db.IdempotencyRecords.Where(r => r.ExpiresAt < now).ExecuteDeleteAsync(cancellation);

    /// <summary>
    /// Takes the key's lock for this transaction, or answers null when another request holds it; with the lock,
    /// reads the answer kept for the key, if one is kept and not expired.
    /// </summary>
    private static async Task<Claim?> ClaimAsync(NpgsqlConnection connection, string scope, string key, DateTimeOffset now, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT k.fingerprint, k.status, k.content_type, k.location, k.e_tag, k.body
            FROM (SELECT pg_try_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0)) AS locked) AS l
            LEFT JOIN idempotency_keys k ON l.locked AND k.scope = $1 AND k.key = $2 AND k.expires_at >= $3
            WHERE l.locked
            """,
            connection)
        {
            Parameters = { Value(scope), Value(key), Value(now) },
        };
        await PreparedStatements.PrepareAsync(command, cancellation);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        if (!await reader.ReadAsync(cancellation))
        {
            return null;
        }

        return new Claim(reader.IsDBNull(0) ? null : new IdempotencyRecord
        {
            Scope = scope,
            Key = key,
            Fingerprint = reader.GetFieldValue<byte[]>(0),
            Status = reader.GetInt32(1),
            ContentType = reader.IsDBNull(2) ? null : reader.GetString(2),
            Location = reader.IsDBNull(3) ? null : reader.GetString(3),
            ETag = reader.IsDBNull(4) ? null : reader.GetString(4),
            Body = reader.IsDBNull(5) ? null : reader.GetFieldValue<byte[]>(5),
        });
    }

    /// <summary>Writes the answer in the request's transaction; an expired answer under the same key is replaced.</summary>
    private static async Task KeepAsync(NpgsqlConnection connection, IdempotencyRecord record)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO idempotency_keys (scope, key, fingerprint, status, content_type, location, e_tag, body, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (scope, key) DO UPDATE
                SET fingerprint = excluded.fingerprint, status = excluded.status, content_type = excluded.content_type,
                    location = excluded.location, e_tag = excluded.e_tag, body = excluded.body,
                    created_at = excluded.created_at, expires_at = excluded.expires_at
            """,
            connection)
        {
            Parameters =
            {
                Value(record.Scope),
                Value(record.Key),
                Value(record.Fingerprint),
                Value(record.Status),
                Value(record.ContentType),
                Value(record.Location),
                Value(record.ETag),
                Value(record.Body),
                Value(record.CreatedAt),
                Value(record.ExpiresAt),
            },
        };
        await PreparedStatements.PrepareAsync(command, CancellationToken.None);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };

    private static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) =>
        value.Count == 0 ? null : value.ToString();

    private static string? ScopeOf(ClaimsPrincipal user) =>
        user.IsInRole(Callers.AdminRole) ? "admin" : user.FindFirstValue(Callers.PartnerIdClaim);

    private static byte[] Fingerprint(HttpRequest request, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    /// <summary>The key's lock is held; <see cref="Kept"/> is the answer a first request left, if any.</summary>
    private sealed record Claim(IdempotencyRecord? Kept);

    /// <summary>The kept answer, sent again byte for byte.</summary>
    private sealed class Replay(IdempotencyRecord record) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = record.Status;
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
