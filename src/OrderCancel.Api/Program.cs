using OrderCancel.Api;
using OrderCancel.Api.Persistence;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrderCancel();

var app = builder.Build();

// `dotnet run -- migrate` applies pending migrations and exits.
var migrateOnly = args.Contains("migrate", StringComparer.Ordinal);
var ready = migrateOnly
    ? await Database.MigrateAsync(app.Services, app.Lifetime.ApplicationStopping)
    : await Database.PrepareAsync(app);
if (ready && !migrateOnly)
{
    app.UseOrderCancel();
    await app.RunAsync();
}
else
{
    Environment.ExitCode = ready ? 0 : 1;
    await app.DisposeAsync(); // Flushes the log.
}

/// <summary>The entry point, visible to the test host.</summary>
public partial class Program;
