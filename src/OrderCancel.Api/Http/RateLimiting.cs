using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using OrderCancel.Api.Partners;

namespace OrderCancel.Api.Http;

/// <summary>
/// A token bucket per partner (SPEC §7a: <c>RateLimiting:PermitsPerSecond</c>, default 100, burst of the same size).
/// The admin key has a bucket of its own; anonymous calls (health, Swagger) are not limited. A refusal is 429 <c>rate_limited</c>
/// with <c>Retry-After</c>. The buckets are shared by every instance through Redis when <c>ConnectionStrings:Redis</c> is
/// set (<see cref="SharedBuckets"/>, SPEC §13); otherwise each instance keeps its own, which is right for one instance only.
/// </summary>
public static class RateLimiting
{
    public static IServiceCollection AddPartnerRateLimits(this IServiceCollection services)
    {
        services.AddSingleton<SharedBuckets>();
        services.AddHostedService(provider => provider.GetRequiredService<SharedBuckets>());
        services.AddRateLimiter(options =>
        {
            // Read when a partner's bucket is made, so configuration set after start-up is honoured.
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                BucketOf(context.User) is not { } bucket ? RateLimitPartition.GetNoLimiter("unlimited")
                : context.RequestServices.GetRequiredService<SharedBuckets>() is { IsConfigured: true } shared
                    ? RateLimitPartition.Get(bucket, name => shared.Bucket(name, PermitsPerSecond(context)))
                    : RateLimitPartition.GetTokenBucketLimiter(bucket, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = PermitsPerSecond(context),
                        TokensPerPeriod = PermitsPerSecond(context),
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
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
