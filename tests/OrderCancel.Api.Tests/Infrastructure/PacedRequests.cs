using System.Diagnostics;
using System.Net;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>A request sent at <see cref="At"/> (a <see cref="Stopwatch"/> timestamp), its answer's status, and its body when it was neither a 200 nor a 429.</summary>
public sealed record Sent(long At, HttpStatusCode Status, string? Other);

/// <summary>
/// A partner's list requests (<c>GET /v1/orders</c>) as the rate-limit tests send them: at a set pace whatever the
/// answers, or one at a time. A 429 must be our <c>rate_limited</c> problem with <c>Retry-After</c>; any other answer
/// but a 200 keeps its body for the failure's message.
/// </summary>
public static class PacedRequests
{
    /// <summary>
    /// <paramref name="perSecond"/> requests a second for <paramref name="duration"/> or until <paramref name="stop"/>,
    /// each sent on time whatever the answers before it, round the clients.
    /// </summary>
    public static async Task<List<Sent>> SendAsync(HttpClient[] clients, int perSecond, TimeSpan duration, CancellationToken stop = default)
    {
        var clock = Stopwatch.StartNew();
        var sends = new List<Task<Sent>>();
        for (var i = 0; i < perSecond * duration.TotalSeconds && !stop.IsCancellationRequested; i++)
        {
            var wait = TimeSpan.FromSeconds((double)i / perSecond) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            sends.Add(OneAsync(clients[i % clients.Length], Stopwatch.GetTimestamp()));
        }

        return [.. await Task.WhenAll(sends)];

        static async Task<Sent> OneAsync(HttpClient client, long at)
        {
            var (status, other) = await AnswerAsync(client);
            return new Sent(at, status, other);
        }
    }

    public static async Task<HttpStatusCode> StatusAsync(HttpClient client) => (await AnswerAsync(client)).Status;

    /// <summary>One list request: its status, and its body when it is neither a 200 nor a 429.</summary>
    public static async Task<(HttpStatusCode Status, string? Other)> AnswerAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/v1/orders");
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            await response.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
            Assert.NotNull(response.Headers.RetryAfter);
        }

        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests ? null : body);
    }

    /// <summary>How many were let through, of how many, and the count of each status.</summary>
    public static string Summary(List<Sent> sent) =>
        $"{sent.Count(s => s.Status == HttpStatusCode.OK)} of {sent.Count} accepted ("
        + string.Join(", ", sent.GroupBy(s => (int)s.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} × {g.Key}")) + ")";

    public static void AllOk(List<Sent> sent) =>
        Assert.All(sent, s => Assert.True(s.Status == HttpStatusCode.OK, $"Answered {(int)s.Status}: {s.Other}"));
}
