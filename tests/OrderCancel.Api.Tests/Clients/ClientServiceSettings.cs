namespace OrderCancel.Api.Tests;

/// <summary>The settings of the service process the client libraries' tests run.</summary>
internal static class ClientServiceSettings
{
    /// <summary>
    /// On an already migrated database, webhooks to loopback receivers, quick polls for deliveries and jobs, and a
    /// rate limit of <paramref name="permitsPerSecond"/> per partner.
    /// </summary>
    public static Dictionary<string, string> Create(int permitsPerSecond = 100_000) => new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["RateLimiting__PermitsPerSecond"] = permitsPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Webhooks__AllowInsecureLoopback"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.100",
        ["CancellationJobs__PollInterval"] = "00:00:00.200",
    };
}
