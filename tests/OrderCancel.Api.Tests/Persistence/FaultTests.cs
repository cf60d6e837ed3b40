using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>A database that cannot be reached is a 503 with Retry-After; anything unexpected a 500 that says nothing internal.</summary>
public sealed class FaultTests : IClassFixture<FaultTests.UnreachableDatabase>
{
    private readonly UnreachableDatabase _unreachable;

    public FaultTests(UnreachableDatabase unreachable) => _unreachable = unreachable;

    [Fact]
    public async Task A_lost_database_is_503_unavailable_with_retry_after()
    {
        var response = await _unreachable.ClientWithKey("oc_any_key").GetAsync("/v1/orders/1");

        await response.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Readiness_fails_while_liveness_holds_without_a_database()
    {
        var client = _unreachable.ClientWithKey(null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }

    /// <summary>The service pointed at a port where no PostgreSQL listens.</summary>
    public sealed class UnreachableDatabase : WebApplicationFactory<Program>
    {
        public HttpClient ClientWithKey(string? key)
        {
            var client = CreateClient();
            if (key is not null)
            {
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }

            return client;
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Testing");
            builder.UseSetting("ConnectionStrings:Orders", "Host=127.0.0.1;Port=1;Database=none;Username=none;Timeout=2");
            builder.UseSetting("Database:MigrateOnStartup", "false");
            builder.UseSetting("Serilog:MinimumLevel:Default", "Fatal");
        }
    }
}

[Collection(SharedApi.Name)]
public sealed class UnexpectedFaultTests(ApiFactory api)
{
    [Fact]
    public async Task An_unexpected_fault_is_a_500_problem_that_reveals_nothing_internal()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await api.WithDbAsync(db => db.Database.ExecuteSqlAsync($"UPDATE orders SET status = 'corrupted_xyz' WHERE id = {order.Id()}"));

        var response = await partner.Client.GetAsync($"/v1/orders/{order.Id()}");

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.InternalServerError, "internal_error");
        var text = problem.GetRawText();
        Assert.DoesNotContain("corrupted_xyz", text);
        Assert.DoesNotContain("Exception", text);
        Assert.DoesNotContain(" at ", text);
    }
}
