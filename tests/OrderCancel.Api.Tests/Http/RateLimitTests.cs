using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>A token bucket per partner: a burst past it is 429 with Retry-After; other partners and health are not affected.</summary>
public sealed class RateLimitTests(RateLimitTests.LimitedApi api) : IClassFixture<RateLimitTests.LimitedApi>
{
    [Fact]
    public async Task A_burst_past_the_bucket_is_429_rate_limited_with_retry_after()
    {
        var partner = await api.NewPartnerAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => partner.Client.GetAsync("/v1/orders")));

        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(limited);
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        await limited[0].ShouldBeProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
        var creates = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => partner.Client.PostAsync("/v1/orders", Requests.Json(TestOrders.NewOrder()))));
        Assert.Equal(creates.Count(r => r.StatusCode == HttpStatusCode.Created), await api.OrderCountAsync(partner.Id));
        Assert.Contains(creates, r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(limited[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        var other = await api.NewPartnerAsync();
        Assert.Equal(HttpStatusCode.OK, (await other.Client.GetAsync("/v1/orders")).StatusCode);
        Assert.All(
            await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => api.ClientWithKey(null).GetAsync("/health/live"))),
            r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var admin = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => api.AdminClient().PostAsync($"/v1/admin/partners/{partner.Id}/keys", null)));
        Assert.Contains(admin, r => r.StatusCode == HttpStatusCode.TooManyRequests);
    }

    public sealed class LimitedApi : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["RateLimiting:PermitsPerSecond"] = "5",
        };
    }
}
