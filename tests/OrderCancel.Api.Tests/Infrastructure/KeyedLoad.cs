using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A partner's keyed writes while something dies under them (an instance, the database's primary): creates, each with
/// a customer ref of its own, and one-unit partial cancels of a few orders, each call with an <c>Idempotency-Key</c>,
/// shuffled, sent by <see cref="Clients"/> clients that retry a failed call with its key as docs/api.md asks, until it
/// gets another answer. <see cref="AssertExactlyOnceAsync"/> then checks that each landed exactly once. Every attempt
/// is kept with when it was sent and answered (<see cref="Attempts"/>), for what a test measures.
/// </summary>
public sealed class KeyedLoad
{
    public const int Clients = 8;
    private const int Creates = 120;
    private const int CancelledOrders = 40;
    private const int CancelsPerOrder = 3;

    private readonly string _prefix;
    private readonly List<Call> _calls;
    private readonly List<long> _orders;

    private KeyedLoad(string prefix, List<Call> calls, List<long> orders)
    {
        _prefix = prefix;
        _calls = calls;
        _orders = orders;
    }

    public int Count => _calls.Count;

    /// <summary>The orders the calls cancel units of.</summary>
    public IReadOnlyList<long> Orders => _orders;

    /// <summary>How many calls have had their answer so far.</summary>
    public int Answered => Answers.Count;

    /// <summary>Each call's answer (by key): the first that was not a retry.</summary>
    public ConcurrentDictionary<string, Answer> Answers { get; } = new();

    /// <summary>Every attempt, as it was answered.</summary>
    public ConcurrentQueue<Attempt> Attempts { get; } = new();

    /// <summary>The attempts that were tried again: a 5xx, a lost connection, or a 409 <c>idempotency_key_in_use</c>.</summary>
    public List<Attempt> Failures => [.. Attempts.Where(a => a.Retried)];

    /// <summary>Makes <see cref="CancelledOrders"/> orders through <paramref name="client"/>, then the calls on them, prefixed with <paramref name="prefix"/>.</summary>
    public static async Task<KeyedLoad> PrepareAsync(HttpClient client, string prefix)
    {
        var lines = new ConcurrentDictionary<long, long>();
        await Parallel.ForEachAsync(Enumerable.Range(0, CancelledOrders), new ParallelOptions { MaxDegreeOfParallelism = Clients }, async (_, _) =>
        {
            var order = await client.CreateOrderAsync(NewOrder(lines: [Line("SKU-K", 10, 2.00m)]));
            lines[order.Id()] = order.GetProperty("lines")[0].GetProperty("id").GetInt64();
        });

        List<Call> calls = [];
        for (var i = 0; i < Creates; i++)
        {
            var order = NewOrder();
            order["customer"]!["ref"] = $"{prefix}-{i}";
            calls.Add(new Call($"{prefix}-create-{i}", "/v1/orders", order.ToJsonString()));
        }

        foreach (var (order, line) in lines)
        {
            for (var n = 0; n < CancelsPerOrder; n++)
            {
                calls.Add(new Call($"{prefix}-cancel-{order}-{n}", $"/v1/orders/{order}/cancel", $$"""{"reason":"customer_request","items":[{"line_id":{{line}},"quantity":1}]}"""));
            }
        }

        return new KeyedLoad(prefix, [.. calls.OrderBy(_ => Random.Shared.Next())], [.. lines.Keys]);
    }

    /// <summary>
    /// Sends every call from <see cref="Clients"/> clients, each again with its key after a lost connection, a 5xx or a
    /// 409 <c>idempotency_key_in_use</c> (its first try may still be running on an instance) until another answer;
    /// each client waits what <paramref name="pace"/> says between calls.
    /// </summary>
    public async Task SendAsync(HttpClient client, Func<TimeSpan>? pace = null)
    {
        var queue = new ConcurrentQueue<Call>(_calls);
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(async _ =>
        {
            while (queue.TryDequeue(out var call))
            {
                for (var attempt = 1; ; attempt++)
                {
                    Assert.True(attempt <= 500, $"{call.Key} never got an answer other than a retry.");
                    var tried = await TryAsync(client, call);
                    Attempts.Enqueue(tried);
                    if (!tried.Retried)
                    {
                        Answers[call.Key] = new Answer((HttpStatusCode)tried.Status, tried.Body);
                        break;
                    }

                    await Task.Delay(200);
                }

                if (pace?.Invoke() is { } wait && wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
            }
        }));
    }

    private static async Task<Attempt> TryAsync(HttpClient client, Call call)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, call.Path) { Content = Requests.Json(call.Body) };
        request.Headers.Add(Idempotency.Header, call.Key);
        var sentAt = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var retried = (int)response.StatusCode >= 500
                || (response.StatusCode == HttpStatusCode.Conflict && body.Contains("idempotency_key_in_use", StringComparison.Ordinal));
            return new Attempt(call.Key, sentAt, Stopwatch.GetTimestamp(), (int)response.StatusCode, body, retried);
        }
        catch (HttpRequestException exception)
        {
            return new Attempt(call.Key, sentAt, Stopwatch.GetTimestamp(), 0, exception.Message, Retried: true);
        }
    }

    /// <summary>
    /// No attempt was answered 500; every call was answered 201 or 200 in the end; each create made exactly one order, the
    /// one its answer names; each order holds exactly its cancels, once each, and an event for each.
    /// </summary>
    public async Task AssertExactlyOnceAsync(IOrdersDatabase database, Guid partner)
    {
        Assert.DoesNotContain(Attempts, attempt => attempt.Status == 500);
        Assert.Equal(_calls.Count, Answers.Count);
        Assert.All(Answers, answer => Assert.True(answer.Value.Status is HttpStatusCode.Created or HttpStatusCode.OK, $"{answer.Key}: {(int)answer.Value.Status} {answer.Value.Body}"));

        var created = await database.WithDbAsync(db => db.Orders
            .Where(o => o.PartnerId == partner && o.Customer.Ref.StartsWith(_prefix + "-"))
            .Select(o => new { o.Id, o.Customer.Ref })
            .ToListAsync());
        for (var i = 0; i < Creates; i++)
        {
            var order = Assert.Single(created, o => o.Ref == $"{_prefix}-{i}");
            Assert.Equal(order.Id, JsonDocument.Parse(Answers[$"{_prefix}-create-{i}"].Body).RootElement.GetProperty("id").GetInt64());
        }

        foreach (var order in _orders)
        {
            var state = await database.StateAsync(order);
            Assert.Equal($"{CancelsPerOrder}", state.CancelledQuantities);
            Assert.Equal(string.Join(",", ["order.created", .. Enumerable.Repeat("order.partially_cancelled", CancelsPerOrder)]), state.Events);
        }
    }

    private sealed record Call(string Key, string Path, string Body);

    public sealed record Answer(HttpStatusCode Status, string Body);

    /// <summary>One try of a call: sent and answered at <see cref="Stopwatch"/> timestamps; <see cref="Status"/> 0 when no answer came (then <see cref="Body"/> says why).</summary>
    public sealed record Attempt(string Key, long SentAt, long AnsweredAt, int Status, string Body, bool Retried)
    {
        public override string ToString() => $"{Key}: {(Status == 0 ? "no answer" : Status)} {Body}";
    }
}
