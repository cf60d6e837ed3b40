using OrderCancel.Api;
using OrderCancel.Api.Persistence;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrderCancel();

var app = builder.Build();

// `dotnet run -- migrate` applies pending migrations and exits.
if (args.Contains("migrate", StringComparer.Ordinal))
{
    await Database.MigrateAsync(app.Services, app.Lifetime.ApplicationStopping);
    return;
}

await app.UseOrderCancelAsync();
await app.RunAsync();

/// <summary>The entry point, visible to the test host.</summary>
public partial class Program;
