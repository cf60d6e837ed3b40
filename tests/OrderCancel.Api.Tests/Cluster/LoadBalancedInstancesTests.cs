using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Http;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Three service processes behind HAProxy (scripts/cluster/haproxy.cfg) on one database, as <c>./scripts/cluster.sh</c>
/// runs them, attacked as production meets them: an instance killed with SIGKILL under load, and a rolling restart
/// (each instance sent SIGTERM and started again in turn) under load. Clients retry a failed request with its key, as
/// docs/api.md asks; whatever happens, no answer is a 500 and every change lands exactly once.
/// </summary>
public sealed class LoadBalancedInstancesTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const int Clients = 8;
    private const int Creates = 120;
    private const int CancelledOrders = 40;
    private const int CancelsPerOrder = 3;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["RateLimiting__PermitsPerSecond"] = "100000",
        ["ForwardedHeaders__KnownProxies"] = "127.0.0.1",
        ["Shutdown__DrainDelay"] = "00:00:03",
    };

    [Fact]
    public async Task An_instance_killed_under_load_loses_nothing_applies_nothing_twice_and_no_answer_is_a_500()
    {
        var partner = await database.NewPartnerAsync();
        var (calls, orders) = await CallsAsync(partner, "kill");
        var instances = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ServiceProcess.StartAsync(database.ConnectionString, Settings)));
        try
        {
            using var balancer = await LoadBalancer.StartAsync([.. instances.Select(i => i.BaseUrl)]);
            var client = balancer.Client(partner.Key);
            var answered = 0;
            var load = SendAllAsync(client, calls, () => Interlocked.Increment(ref answered));
            await Eventually.TrueAsync(() => Volatile.Read(ref answered) >= calls.Count / 3, () => "The load never got going.");
            instances[1].Kill();
            var answeredAtKill = Volatile.Read(ref answered);
            var outcome = await load;
            await Eventually.TrueAsync(
                () => balancer.Output().Contains("api2 is DOWN", StringComparison.Ordinal),
                () => $"HAProxy did not take the killed instance out:\n{balancer.Output()}");

            Assert.True(answeredAtKill < calls.Count - Clients, "The load was over when the instance died; the kill tested nothing.");
            await AssertExactlyOnceAsync(partner, calls, orders, outcome, "kill");
        }
        finally
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_rolling_restart_under_load_fails_no_request()
    {
        var partner = await database.NewPartnerAsync();
        var (calls, orders) = await CallsAsync(partner, "roll");
        var instances = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ServiceProcess.StartAsync(database.ConnectionString, Settings)));
        try
        {
            using var balancer = await LoadBalancer.StartAsync([.. instances.Select(i => i.BaseUrl)]);
            var client = balancer.Client(partner.Key);
            using var restarted = new CancellationTokenSource();
            var reads = ReadUntilAsync(client, orders[0], restarted.Token);
            var writes = SendAllAsync(client, calls, () => { }, pace: TimeSpan.FromSeconds(1));
            for (var i = 0; i < instances.Length; i++)
            {
                var port = new Uri(instances[i].BaseUrl).Port;
                instances[i].Terminate();
                Assert.Equal(0, await instances[i].WaitForExitAsync(seconds: 30));
                instances[i].Dispose();
                instances[i] = ServiceProcess.Launch(database.ConnectionString, Settings, port);
                await instances[i].WaitUntilReadyAsync();
                await Task.Delay(TimeSpan.FromSeconds(3)); // HAProxy's rise: two checks a second apart.
            }

            await restarted.CancelAsync();
            var (read, readFailures) = await reads;
            var outcome = await writes;

            Assert.True(read >= 50, $"Only {read} reads were answered during the restarts.");
            Assert.True(readFailures.Count == 0, $"Reads failed during the rolling restart: {string.Join("; ", readFailures.Take(10))}");
            Assert.True(outcome.Failures.IsEmpty, $"Writes failed during the rolling restart: {string.Join("; ", outcome.Failures.Take(10))}");
            await AssertExactlyOnceAsync(partner, calls, orders, outcome, "roll");
        }
        finally
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }
    }

    /// <summary>Reads one order through the balancer from two clients until <paramref name="stop"/>: how many were answered 200, and every other outcome.</summary>
    private static async Task<(int Answered, List<string> Failures)> ReadUntilAsync(HttpClient client, long order, CancellationToken stop)
    {
        var answered = 0;
        var failures = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync($"/v1/orders/{order}", CancellationToken.None);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref answered);
                    }
                    else
                    {
                        failures.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                    }
                }
                catch (HttpRequestException exception)
                {
                    failures.Add(exception.Message);
                }

                await Task.Delay(50, CancellationToken.None);
            }
        }));
        return (answered, [.. failures]);
    }

    /// <summary>Creates (each with its own customer ref) and partial cancels of one unit of <see cref="CancelledOrders"/> orders, each with a key, shuffled.</summary>
    private async Task<(List<Call> Calls, List<long> Orders)> CallsAsync(TestPartner partner, string prefix)
    {
        var orders = new List<long>();
        for (var i = 0; i < CancelledOrders; i++)
        {
            orders.Add((await partner.Client.CreateOrderAsync(NewOrder(lines: [Line("SKU-K", 10, 2.00m)]))).Id());
        }

        var lineIds = await database.WithDbAsync(db => db.Orders.Where(o => orders.Contains(o.Id)).ToDictionaryAsync(o => o.Id, o => o.Lines.Single().Id));
        List<Call> calls = [];
        for (var i = 0; i < Creates; i++)
        {
            var order = NewOrder();
            order["customer"]!["ref"] = $"{prefix}-{i}";
            calls.Add(new Call($"{prefix}-create-{i}", "/v1/orders", order.ToJsonString()));
        }

        foreach (var order in orders)
        {
            for (var n = 0; n < CancelsPerOrder; n++)
            {
                calls.Add(new Call($"{prefix}-cancel-{order}-{n}", $"/v1/orders/{order}/cancel", $$"""{"reason":"customer_request","items":[{"line_id":{{lineIds[order]}},"quantity":1}]}"""));
            }
        }

        return ([.. calls.OrderBy(_ => Random.Shared.Next())], orders);
    }

    /// <summary>
    /// Sends every call from <see cref="Clients"/> clients, each again with its key after a lost connection, a 5xx or a
    /// 409 <c>idempotency_key_in_use</c> (its first try may still be running on an instance) until another answer.
    /// </summary>
    private static async Task<Outcome> SendAllAsync(HttpClient client, List<Call> calls, Action onAnswer, TimeSpan? pace = null)
    {
        var queue = new ConcurrentQueue<Call>(calls);
        var outcome = new Outcome();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(async _ =>
        {
            while (queue.TryDequeue(out var call))
            {
                for (var attempt = 1; ; attempt++)
                {
                    Assert.True(attempt <= 200, $"{call.Key} never got an answer other than a retry.");
                    using var request = new HttpRequestMessage(HttpMethod.Post, call.Path) { Content = Requests.Json(call.Body) };
                    request.Headers.Add(Idempotency.Header, call.Key);
                    try
                    {
                        using var response = await client.SendAsync(request);
                        var body = await response.Content.ReadAsStringAsync();
                        if ((int)response.StatusCode >= 500 || (response.StatusCode == HttpStatusCode.Conflict && body.Contains("idempotency_key_in_use", StringComparison.Ordinal)))
                        {
                            outcome.Failures.Add($"{call.Key}: {(int)response.StatusCode} {body}");
                            Interlocked.Increment(ref outcome.Retries);
                            await Task.Delay(200);
                            continue;
                        }

                        outcome.Answers[call.Key] = new Answer(response.StatusCode, body);
                        onAnswer();
                        break;
                    }
                    catch (HttpRequestException exception)
                    {
                        outcome.Failures.Add($"{call.Key}: {exception.Message}");
                        Interlocked.Increment(ref outcome.Retries);
                        await Task.Delay(200);
                    }
                }

                if (pace is { } wait)
                {
                    await Task.Delay(wait);
                }
            }
        }));
        return outcome;
    }

    private async Task AssertExactlyOnceAsync(TestPartner partner, List<Call> calls, List<long> orders, Outcome outcome, string prefix)
    {
        Assert.DoesNotContain(outcome.Failures, failure => failure.Contains(": 500 ", StringComparison.Ordinal));
        Assert.Equal(calls.Count, outcome.Answers.Count);
        Assert.All(outcome.Answers, answer => Assert.True(answer.Value.Status is HttpStatusCode.Created or HttpStatusCode.OK, $"{answer.Key}: {(int)answer.Value.Status} {answer.Value.Body}"));

        var created = await database.WithDbAsync(db => db.Orders
            .Where(o => o.PartnerId == partner.Id && o.Customer.Ref.StartsWith(prefix + "-"))
            .Select(o => new { o.Id, o.Customer.Ref })
            .ToListAsync());
        for (var i = 0; i < Creates; i++)
        {
            var order = Assert.Single(created, o => o.Ref == $"{prefix}-{i}");
            Assert.Equal(order.Id, JsonDocument.Parse(outcome.Answers[$"{prefix}-create-{i}"].Body).RootElement.GetProperty("id").GetInt64());
        }

        foreach (var order in orders)
        {
            var state = await database.StateAsync(order);
            Assert.Equal($"{CancelsPerOrder}", state.CancelledQuantities);
            Assert.Equal(string.Join(",", ["order.created", .. Enumerable.Repeat("order.partially_cancelled", CancelsPerOrder)]), state.Events);
        }
    }

    private sealed record Call(string Key, string Path, string Body);

    private sealed record Answer(HttpStatusCode Status, string Body);

    private sealed class Outcome
    {
        public ConcurrentDictionary<string, Answer> Answers { get; } = new();

        public ConcurrentBag<string> Failures { get; } = [];

#pragma warning disable SA1401 // Interlocked needs the field.
        public int Retries;
#pragma warning restore SA1401
    }
}
