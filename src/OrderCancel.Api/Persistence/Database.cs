using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrderCancel.Api.Partners;

namespace OrderCancel.Api.Persistence;

public static class Database
{
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellation)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        await db.Database.MigrateAsync(cancellation);
    }

    /// <summary>Start-up work: migrations when configured, and the Development demo partner.</summary>
    public static async Task PrepareAsync(WebApplication app)
    {
        var cancellation = app.Lifetime.ApplicationStopping;
        if (app.Configuration.GetValue("Database:MigrateOnStartup", defaultValue: true))
        {
            await MigrateAsync(app.Services, cancellation);
        }

        var demoKey = app.Configuration["Demo:ApiKey"];
        if (app.Environment.IsDevelopment() && !string.IsNullOrWhiteSpace(demoKey))
        {
            await using var scope = app.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
            await DemoPartner.SeedAsync(db, demoKey, TimeProvider.System.GetUtcNow(), cancellation);
        }
    }
}

/// <summary><c>/health/ready</c>: the database answers.</summary>
public sealed class DatabaseHealthCheck(OrdersDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await db.Database.CanConnectAsync(cancellationToken)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("The database cannot be reached.");
}
