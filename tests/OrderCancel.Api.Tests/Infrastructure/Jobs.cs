using System.Net;
using System.Text.Json;
using OrderCancel.Api.CancellationJobs;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>Bulk cancellation jobs from a test: create one, wait until it finishes, read every result.</summary>
public static class Jobs
{
    public static async Task<Guid> CreateJobAsync(this HttpClient client, string body)
    {
        var response = await client.PostAsync("/v1/cancellation-jobs", Requests.Json(body));
        var job = await response.ShouldBeAsync(HttpStatusCode.Accepted);
        var id = job.GetProperty("id").GetGuid();
        Assert.Equal($"/v1/cancellation-jobs/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("queued", job.GetProperty("status").GetString());
        Assert.Equal(TimeSpan.FromSeconds(CancellationJobEndpoints.PollAfterSeconds), response.Headers.RetryAfter?.Delta);
        return id;
    }

    /// <summary>The job once its status is <paramref name="status"/> (completed unless said).</summary>
    public static async Task<JsonElement> WaitForJobAsync(this HttpClient client, Guid id, string status = "completed")
    {
        JsonElement job = default;
        await Eventually.TrueAsync(
            async () =>
            {
                var response = await client.GetAsync($"/v1/cancellation-jobs/{id}");
                job = await response.ShouldBeAsync(HttpStatusCode.OK);
                var now = job.GetProperty("status").GetString();
                // Until it has finished, the answer says when to ask again; after, nothing is left to wait for.
                var advised = now is "queued" or "running" ? TimeSpan.FromSeconds(CancellationJobEndpoints.PollAfterSeconds) : (TimeSpan?)null;
                Assert.Equal(advised, response.Headers.RetryAfter?.Delta);
                return now == status;
            },
            () => $"Job {id} did not become {status}: {job}");
        return job;
    }

    public static async Task<JsonElement> RunJobAsync(this HttpClient client, string body) =>
        await client.WaitForJobAsync(await client.CreateJobAsync(body));

    /// <summary>Every result row, following next_cursor with small pages (so paging is exercised too).</summary>
    public static async Task<List<JobResult>> JobResultsAsync(this HttpClient client, Guid id, string? outcome = null)
    {
        List<JobResult> results = [];
        string? cursor = null;
        do
        {
            var query = $"/v1/cancellation-jobs/{id}/results?limit=7" + (outcome is null ? "" : $"&outcome={outcome}") + (cursor is null ? "" : $"&cursor={cursor}");
            var page = await (await client.GetAsync(query)).ShouldBeAsync(HttpStatusCode.OK);
            results.AddRange(page.GetProperty("data").EnumerateArray().Select(row => new JobResult(
                row.GetProperty("order_id").GetInt64(),
                row.GetProperty("outcome").GetString()!,
                row.GetProperty("code").GetString(),
                row.GetProperty("event_id").ValueKind == JsonValueKind.Null ? null : row.GetProperty("event_id").GetGuid(),
                row.GetProperty("amount_released").ValueKind == JsonValueKind.Null ? null : row.GetProperty("amount_released").GetDecimal())));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);
        return results;
    }

    /// <summary>A job's counts, amounts and status as one comparable text.</summary>
    public static string Totals(JsonElement job) =>
        $"{job.GetProperty("counts")} {job.GetProperty("amount_released")}";
}

public sealed record JobResult(long OrderId, string Outcome, string? Code, Guid? EventId, decimal? AmountReleased);
