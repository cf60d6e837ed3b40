using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using OrderCancel.Api.Partners;

namespace OrderCancel.Api.Http;

/// <summary>
/// A token bucket per partner (SPEC §7a: <c>RateLimiting:PermitsPerSecond</c>, default 100, burst of the same size).
/// The admin key has a bucket of its own; anonymous calls (health, Swagger) are not limited. A refusal is 429 <c>rate_limited</c>
/// with <c>Retry-After</c>.
/// </summary>
public static class RateLimiting
{
    public static IServiceCollection AddPartnerRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(options =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                BucketOf(context.User) is { } bucket
                    ? RateLimitPartition.GetTokenBucketLimiter(bucket, _ => new TokenBucketRateLimiterOptions
                    {
                        // Read when a partner's bucket is made, so configuration set after start-up is honoured.
                        TokenLimit = PermitsPerSecond(context),
                        TokensPerPeriod = PermitsPerSecond(context),
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter("unlimited"));
            options.OnRejected = async (rejected, cancellation) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                var response = rejected.HttpContext.Response;
                rejected.HttpContext.RequestServices.GetRequiredService<Telemetry.OrderCancelMetrics>().RateLimited();
                response.StatusCode = StatusCodes.Status429TooManyRequests;
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Result("rate_limited", $"Slow down: at most {PermitsPerSecond(rejected.HttpContext)} requests a second. Retry after {seconds} s.")
                    .ExecuteAsync(rejected.HttpContext);
            };
        });
        return services;
    }

    /// <summary>One bucket per partner, and one for the admin key; anonymous calls (health, Swagger) have none.</summary>
    private static string? BucketOf(ClaimsPrincipal user) =>
        user.IsInRole(Callers.AdminRole) ? "admin" : user.FindFirstValue(Callers.PartnerIdClaim);

    private static int PermitsPerSecond(HttpContext context) =>
        context.RequestServices.GetRequiredService<IConfiguration>().GetValue("RateLimiting:PermitsPerSecond", 100);
}
