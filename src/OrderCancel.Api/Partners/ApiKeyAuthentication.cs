using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OrderCancel.Api.Http;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Partners;

/// <summary>Who is calling: a partner's key or the admin key, read from <c>Authorization: Bearer</c>.</summary>
public static class Callers
{
    public const string Scheme = "ApiKey";
    public const string PartnerPolicy = "partner";
    public const string AdminPolicy = "admin";
    public const string PartnerRole = "partner";
    public const string AdminRole = "admin";
    public const string PartnerIdClaim = "partner_id";
    public const string KeyIdClaim = "key_id";

    public static Guid PartnerId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(PartnerIdClaim) ?? throw new InvalidOperationException("Not a partner caller."));

    /// <summary>The calling partner's settings (SPEC §11), read with its key when the request arrived.</summary>
    public static Domain.PartnerPolicy CallerPolicy(this HttpContext http) =>
        http.Features.Get<Domain.PartnerPolicy>() ?? throw new InvalidOperationException("Not a partner caller.");

    public static string Actor(this ClaimsPrincipal user) =>
        user.IsInRole(AdminRole)
            ? Domain.Actors.Admin
            : Domain.Actors.ApiKey(Guid.Parse(user.FindFirstValue(KeyIdClaim)!));
}

public sealed class AdminOptions
{
    public string? ApiKey { get; set; }
}

public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptionsMonitor<AdminOptions> admin,
    KeyLookupLimiter lookups,
    OrdersDbContext db) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("Use Authorization: Bearer <api key>.");
        }

        var secret = header["Bearer ".Length..].Trim();
        if (IsAdminKey(secret))
        {
            return Success(new Claim(ClaimTypes.Role, Callers.AdminRole));
        }

        var hash = ApiKey.HashOf(secret);
        var (allowed, retryAfter, key) = await lookups.LookUpAsync(
            hash, Context.Connection.RemoteIpAddress, () => db.FindActiveKeyAsync(hash, Context.RequestAborted), Context.RequestAborted);
        if (!allowed)
        {
            Context.Features.Set(new LookupRefused(retryAfter));
            return AuthenticateResult.Fail("Too many unknown keys from this address.");
        }

        if (key is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        Context.Features.Set(key.Policy);
        return Success(
            new Claim(ClaimTypes.Role, Callers.PartnerRole),
            new Claim(Callers.PartnerIdClaim, key.PartnerId.ToString()),
            new Claim(Callers.KeyIdClaim, key.KeyId.ToString()));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Features.Get<LookupRefused>() is { } refused)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(refused.RetryAfter.TotalSeconds));
            Context.RequestServices.GetRequiredService<Telemetry.OrderCancelMetrics>().RateLimited();
            Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await WriteProblem(
                "rate_limited",
                $"Too many requests with keys that are not active from this address: at most {lookups.PermitsPerSecond} a second. Retry after {seconds} s.");
            return;
        }

        Response.Headers.WWWAuthenticate = "Bearer";
        await WriteProblem("unauthenticated", "Send Authorization: Bearer <api key> with a key that is active.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblem("forbidden", "This key may not use this route.");

    private bool IsAdminKey(string secret)
    {
        var configured = admin.CurrentValue.ApiKey;
        return !string.IsNullOrEmpty(configured)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(configured));
    }

    /// <summary>The client's bucket for keys not seen valid was empty: the key was not looked up, and the answer is 429.</summary>
    private sealed record LookupRefused(TimeSpan RetryAfter);

    private static AuthenticateResult Success(params Claim[] claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity(claims, Callers.Scheme)), Callers.Scheme));

    private Task WriteProblem(string code, string detail)
    {
        var problem = Problems.Create(code, detail);
        Response.StatusCode = problem.Status!.Value;
        return TypedResults.Problem(problem).ExecuteAsync(Context);
    }
}
