using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Pooled connections stay sane under error traffic: on a pool of four connections, reads whose answers are checked
/// against what they asked for run among failing statements and rollbacks on the same pool (prepared and not),
/// prepared statements stopped by a timeout or a cancellation, requests the client abandons mid-flight, and racing
/// creates that hit a unique index. No answer may be a 5xx and no read may see rows
/// meant for another. Short in the test command; <c>POOL_STRESS_SECONDS=300</c> runs it for minutes, and
/// <c>POOL_STRESS_CONNECTION_OPTIONS="Max Auto Prepare=64;No Reset On Close=true"</c> tries a faster setting.
/// </summary>
public sealed class PoolStressTests(PoolStressTests.SmallPool api) : IClassFixture<PoolStressTests.SmallPool>
{
    private const int Workers = 12;

    private const int Steps = 8;

    [Fact]
    public async Task Reads_stay_correct_and_nothing_answers_5xx_among_failures_rollbacks_and_aborts()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("POOL_STRESS_SECONDS"), out var configured) ? configured : 6;
        var partner = await api.NewPartnerAsync();
        var orders = new List<(long Id, string Reference)>();
        for (var i = 0; i < 20; i++)
        {
            var reference = $"stress-{Guid.NewGuid():N}";
            var order = NewOrder(reference: reference);
            order["customer"]!["ref"] = reference;
            orders.Add(((await partner.Client.CreateOrderAsync(order)).Id(), reference));
        }

        var faults = new ConcurrentQueue<string>();
        var counts = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (clock.Elapsed < TimeSpan.FromSeconds(seconds) && faults.IsEmpty)
            {
                var (id, reference) = orders[random.Next(orders.Count)];
                var step = random.Next(Steps);
                counts.AddOrUpdate($"step {step}", 1, (_, n) => n + 1);
                try
                {
                    var fault = step switch
                    {
                        0 => await ReadOneAsync(partner.Client, id, reference),
                        1 => await ReadListAsync(partner.Client, reference),
                        2 => await FailAndRollBackAsync(api.ServiceConnectionString, random, prepare: false),
                        3 => await AbandonAsync(partner.Client, id, random),
                        4 => await RaceCreatesAsync(partner.Client),
                        5 => await RefuseMutationAsync(partner.Client, id),
                        6 => await FailAndRollBackAsync(api.ServiceConnectionString, random, prepare: true),
                        _ => await TimeOutOrCancelAsync(api.ServiceConnectionString, random),
                    };
                    if (fault is not null)
                    {
                        faults.Enqueue(fault);
                    }
                }
                catch (Exception exception)
                {
                    faults.Enqueue($"step {step}: {exception}");
                }
            }
        })));

        Assert.True(faults.IsEmpty, string.Join("\n", faults.Take(5)));
        Assert.All(Enumerable.Range(0, Steps), step => Assert.True(counts.GetValueOrDefault($"step {step}") > 0, $"step {step} never ran"));
    }

    private static async Task<string?> ReadOneAsync(HttpClient client, long id, string reference)
    {
        using var response = await client.GetAsync($"/v1/orders/{id}");
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return $"GET {id}: {(int)response.StatusCode} {text}";
        }

        var order = JsonDocument.Parse(text).RootElement;
        return order.Id() == id && order.GetProperty("reference").GetString() == reference ? null : $"GET {id} answered another order: {text}";
    }

    private static async Task<string?> ReadListAsync(HttpClient client, string customerRef)
    {
        using var response = await client.GetAsync($"/v1/orders?customer_ref={customerRef}");
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return $"list {customerRef}: {(int)response.StatusCode} {text}";
        }

        var data = JsonDocument.Parse(text).RootElement.GetProperty("data");
        return data.GetArrayLength() == 1 && data[0].GetProperty("customer").GetProperty("ref").GetString() == customerRef
            ? null
            : $"list {customerRef} answered other rows: {text}";
    }

    /// <summary>
    /// On the service's own pool, one statement text that fails about half the time (a scope over the column's 64
    /// characters) inside a transaction, then the rollback: the pattern of npgsql/npgsql#6391. When it succeeds, the row
    /// read back in the same transaction must be the one just written. With <paramref name="prepare"/>, both statements
    /// are prepared explicitly first, as the service prepares its hot statements (Persistence/PreparedStatements.cs).
    /// </summary>
    private static async Task<string?> FailAndRollBackAsync(string connectionString, Random random, bool prepare)
    {
        var scope = new string('s', 60 + random.Next(10));
        var key = Guid.NewGuid().ToString();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        // Texts of their own when prepared: Npgsql keeps one statement per text and connection, and an explicitly prepared
        // one would stand in for the automatic preparation the unprepared pattern has to meet.
        var returning = prepare ? "RETURNING key, scope" : "RETURNING key";
        await using var insert = new NpgsqlCommand($"INSERT INTO idempotency_keys (scope, key, fingerprint, status, created_at, expires_at) VALUES ($1, $2, $3, 200, now(), now()) {returning}", connection, transaction)
        {
            Parameters =
            {
                new NpgsqlParameter<string> { TypedValue = scope },
                new NpgsqlParameter<string> { TypedValue = key },
                new NpgsqlParameter<byte[]> { TypedValue = [1] },
            },
        };
        try
        {
            if (prepare)
            {
                await insert.PrepareAsync();
            }

            await insert.ExecuteNonQueryAsync();
        }
        catch (PostgresException expected) when (expected.SqlState == PostgresErrorCodes.StringDataRightTruncation && scope.Length > 64)
        {
            await transaction.RollbackAsync();
            return null;
        }

        await using var read = new NpgsqlCommand($"SELECT scope FROM idempotency_keys WHERE key = $1{(prepare ? " AND scope IS NOT NULL" : "")}", connection, transaction)
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = key } },
        };
        if (prepare)
        {
            await read.PrepareAsync();
        }

        var stored = (string?)await read.ExecuteScalarAsync();
        await transaction.RollbackAsync();
        return stored == scope ? null : $"wrote scope of {scope.Length} characters under {key}, read back '{stored}'";
    }

    /// <summary>
    /// On the service's own pool, a prepared statement stopped mid-run inside a transaction, by the statement timeout
    /// (57014) or by its caller's cancellation (best effort: it may also come too early and let the statement finish),
    /// then the rollback; a prepared echo on the same connection afterwards must answer its own value.
    /// </summary>
    private static async Task<string?> TimeOutOrCancelAsync(string connectionString, Random random)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var byTimeout = random.Next(2) == 0;
            if (byTimeout)
            {
                await using var limit = new NpgsqlCommand("SET LOCAL statement_timeout = 5", connection, transaction);
                await limit.ExecuteNonQueryAsync();
            }

            await using var sleep = new NpgsqlCommand("SELECT pg_sleep($1)", connection, transaction) { Parameters = { new NpgsqlParameter<double> { TypedValue = 0.2 } } };
            await sleep.PrepareAsync();
            using var cancel = new CancellationTokenSource(byTimeout ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(random.Next(1, 10)));
            try
            {
                await sleep.ExecuteNonQueryAsync(cancel.Token);
                if (byTimeout)
                {
                    return "a sleep of 200 ms outlived a statement timeout of 5 ms";
                }

                // A cancellation is a request PostgreSQL may get before the statement starts (then it runs to its end).
            }
            catch (Exception stopped) when (stopped is OperationCanceledException || stopped is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled })
            {
            }

            if (connection.State == System.Data.ConnectionState.Open)
            {
                await transaction.RollbackAsync();
            }
        }

        if (connection.State != System.Data.ConnectionState.Open)
        {
            // A cancellation that came too late breaks the connection, which the pool then drops: nothing to check.
            return null;
        }

        var value = Guid.NewGuid().ToString();
        await using var echo = new NpgsqlCommand("SELECT $1::text", connection) { Parameters = { new NpgsqlParameter<string> { TypedValue = value } } };
        await echo.PrepareAsync();
        var answered = (string?)await echo.ExecuteScalarAsync();
        return answered == value ? null : $"a prepared echo after a stopped statement answered '{answered}' for '{value}'";
    }

    /// <summary>A mutation the client gives up on after a few milliseconds, wherever the service is in it.</summary>
    private static async Task<string?> AbandonAsync(HttpClient client, long id, Random random)
    {
        using var abandon = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.Next(1, 8)));
        try
        {
            using var response = await client.PostAsync($"/v1/orders/{id}/cancel/preview", Requests.Json("""{"reason":"customer_request"}"""), abandon.Token);
            return (int)response.StatusCode >= 500 ? $"abandoned preview: {(int)response.StatusCode}" : null;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Two creates with one new reference at once: one is created, the other meets the unique index or its check.</summary>
    private static async Task<string?> RaceCreatesAsync(HttpClient client)
    {
        var body = NewOrder(reference: $"race-{Guid.NewGuid():N}").ToJsonString();
        var answers = await Task.WhenAll(client.PostAsync("/v1/orders", Requests.Json(body)), client.PostAsync("/v1/orders", Requests.Json(body)));
        var statuses = answers.Select(a => a.StatusCode).Order().ToArray();
        return statuses is [HttpStatusCode.Created, HttpStatusCode.Conflict] ? null : $"racing creates answered {string.Join(", ", statuses)}";
    }

    /// <summary>A mutation refused inside its transaction (412): the transaction rolls back.</summary>
    private static async Task<string?> RefuseMutationAsync(HttpClient client, long id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{id}/cancel") { Content = Requests.Json("""{"reason":"customer_request"}""") };
        request.Headers.TryAddWithoutValidation("If-Match", "\"999999\"");
        using var response = await client.SendAsync(request);
        return response.StatusCode == HttpStatusCode.PreconditionFailed ? null : $"If-Match refusal answered {(int)response.StatusCode}";
    }

    /// <summary>The service on a pool of four connections (plus whatever options the long mode is asked to try).</summary>
    public sealed class SmallPool : ApiFactory
    {
        public string ServiceConnectionString => new NpgsqlConnectionStringBuilder(
            $"{ConnectionString};{Environment.GetEnvironmentVariable("POOL_STRESS_CONNECTION_OPTIONS")}".TrimEnd(';'))
        {
            MaxPoolSize = 4,
        }.ConnectionString;

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orders"] = ServiceConnectionString,
            ["RateLimiting:PermitsPerSecond"] = "100000",
        };
    }
}
