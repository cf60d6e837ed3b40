using System.Net;
using System.Text.Json;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A partner following the events feed as docs/api.md tells one to: a page at a time from the last <c>resume_cursor</c>,
/// keeping the ids it saw. <paramref name="get"/> sends a GET of the given path with the partner's key.
/// </summary>
public sealed class FeedPoller(Func<string, Task<HttpResponseMessage>> get)
{
    private string? _cursor;

    public List<Guid> Seen { get; } = [];

    /// <summary>Reads the next page; true when there is nothing after it for now.</summary>
    public async Task<bool> ReadPageAsync()
    {
        var page = await (await get("/v1/events?limit=37" + (_cursor is null ? "" : $"&cursor={_cursor}"))).ShouldBeAsync(HttpStatusCode.OK);
        Seen.AddRange(page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()));
        _cursor = page.GetProperty("resume_cursor").GetString();
        return page.GetProperty("next_cursor").ValueKind == JsonValueKind.Null;
    }

    /// <summary>
    /// Reads pages while <paramref name="writers"/> run, then until it has caught up with every event stored once they
    /// ended (caught up is not yet done: a transaction of another test may hold the last events back for a while).
    /// Answers the stored events' ids.
    /// </summary>
    public async Task<List<Guid>> FollowAsync(Task writers, Func<Task<List<Guid>>> storedIds)
    {
        while (!writers.IsCompleted)
        {
            await ReadPageAsync();
        }

        await writers;
        var stored = await storedIds();
        await Eventually.TrueAsync(
            async () => await ReadPageAsync() && Seen.Count >= stored.Count,
            () => $"The poller saw {Seen.Count} of the {stored.Count} events.");
        return stored;
    }
}
