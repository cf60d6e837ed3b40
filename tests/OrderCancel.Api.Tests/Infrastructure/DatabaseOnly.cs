namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// Creates and migrates a database and issues keys, for tests that run the service as a process over it; this
/// in-memory instance's own dispatcher and job worker stay idle, so only the processes deliver webhooks and run jobs.
/// </summary>
public sealed class DatabaseOnly : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Webhooks:PollInterval"] = "01:00:00",
        ["CancellationJobs:PollInterval"] = "01:00:00",
    };
}
