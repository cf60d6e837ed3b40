using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Client;
using OrderCancel.Client.Models;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The C# client library (clients/dotnet, <c>OrderCancel.Client</c>) against the service as a process on a real
/// database: the docs' walk through it, a retry after an answer lost on the wire that applies once, 429 and 503 waited
/// out as <c>Retry-After</c> says, a 422 not retried, 250 orders as one async stream, webhook deliveries verified,
/// and every operation of openapi.json exposed.
/// </summary>
public sealed class DotnetClientTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private static readonly Dictionary<string, string> Settings = ClientServiceSettings.Create();

    [Fact]
    public async Task The_docs_walk_runs_through_the_library()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var partner = await database.NewPartnerAsync();
        using var client = new OrderCancelClient(partner.Key, new Uri(service.BaseUrl));

        var first = await client.CreateOrderAsync(NewOrder("walk-1"));
        var paid = await client.PayOrderAsync(first.Id!.Value, new PayOrderRequest { Method = "card", Amount = first.AmountDue, Reference = "pi_walk" });
        Assert.Equal(OrderStatus.Paid, paid.Order!.Status);
        Assert.Equal([EventType.OrderCreated, EventType.OrderPaid], (await client.ListOrderEventsAsync(first.Id.Value)).Data!.Select(e => e.Type!.Value));

        var second = await client.CreateOrderAsync(NewOrder("walk-2"));
        var id = second.Id!.Value;
        var partial = await client.CancelOrderAsync(id, new CancelOrderRequest
        {
            Reason = ClientCancellationReason.Customer_request,
            Items = [new CancelItemRequest { LineId = second.Lines![0].Id, Quantity = 1, Reason = ClientCancellationReason.Out_of_stock }],
        });
        Assert.Equal(1, partial.Order!.Lines![0].CancelledQuantity);

        var preview = await client.PreviewCancellationAsync(id, new CancelOrderRequest { Reason = ClientCancellationReason.Customer_request });
        Assert.True(preview.Allowed);
        Assert.Equal(partial.Order.AmountDue, preview.AmountReleased);

        // Dates are DateOnly both ways (Kiota's Date converts).
        var week = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(7));
        var scheduled = await client.CancelOrderAsync(id, new CancelOrderRequest { Reason = ClientCancellationReason.Customer_request, EffectiveDate = week });
        DateOnly effective = scheduled.Order!.ScheduledCancellation!.EffectiveDate!.Value;
        Assert.Equal(week, effective);
        var unscheduled = await client.UnscheduleCancellationAsync(id);
        Assert.Null(unscheduled.Order!.ScheduledCancellation);

        // If-Match from an earlier answer: a stale version is refused, the current one goes through.
        var stale = await Assert.ThrowsAsync<ProblemException>(() => client.CancelOrderAsync(
            id, new CancelOrderRequest { Reason = ClientCancellationReason.Other, Note = "Customer phoned in" }, new RequestOptions { IfMatch = partial.Order.Version }));
        Assert.Equal(ProblemCode.Version_mismatch, stale.Code);
        var full = await client.CancelOrderAsync(
            id, new CancelOrderRequest { Reason = ClientCancellationReason.Other, Note = "Customer phoned in" }, new RequestOptions { IfMatch = unscheduled.Order.Version });
        Assert.Equal(OrderStatus.Cancelled, full.Order!.Status);
        var reactivated = await client.ReactivateOrderAsync(id, new ReactivateOrderRequest());
        Assert.Equal(OrderStatus.Pending, reactivated.Order!.Status);
        Assert.Equal(partial.Order.Total, reactivated.Order.Total);

        var job = await client.CreateCancellationJobAsync(new CreateCancellationJobRequest
        {
            OrderIds = [id, first.Id],
            Reason = ClientCancellationReason.Out_of_stock,
            DryRun = true,
        });
        var done = await WaitForJobAsync(client, job.Id!.Value);
        Assert.Equal(CancellationJobStatus.Completed, done.Status);
        Assert.Equal(1, done.Counts!.Cancelled);
        Assert.Equal(1, done.Counts.Refused);
        var results = await client.ListCancellationJobResultsAsync(job.Id.Value).ToListAsync();
        Assert.Equal([first.Id.Value, id], results.Select(r => r.OrderId!.Value).Order());
        Assert.Contains(job.Id, await client.ListCancellationJobsAsync().Select(j => j.Id).ToListAsync());
        Assert.Equal(OrderStatus.Pending, (await client.GetOrderAsync(id)).Status);

        var settings = await client.PatchSettingsAsync(new SettingsPatch { CancellationWindow = "P14D" });
        Assert.Equal("P14D", settings.CancellationWindow);
        Assert.Equal("P14D", (await client.GetSettingsAsync()).CancellationWindow);

        var tested = await client.TestCancelOrderAsync(first.Id.Value, new TestCancelRequest());
        Assert.Equal(OrderStatus.Cancelled, tested.Order!.Status);

        var events = await client.ListEventsAsync(q => q.Limit = 3).ToListAsync();
        Assert.Equal(events.Count, events.Select(e => e.Id).Distinct().Count());
        Assert.Equal(
            [EventType.OrderCreated, EventType.OrderPartially_cancelled, EventType.OrderCancellation_scheduled, EventType.OrderCancellation_unscheduled, EventType.OrderCancelled, EventType.OrderReactivated],
            events.Where(e => e.OrderId == id).Select(e => e.Type!.Value));
        Assert.Contains(events, e => e.Type == EventType.PartnerSettings_changed);
        Assert.Equal(EventType.OrderCancelled, (await client.GetEventAsync(events.Last(e => e.OrderId == first.Id).Id!.Value)).Type);
    }

    [Fact]
    public async Task A_create_whose_answer_is_lost_after_the_service_committed_it_is_retried_with_its_key_and_exists_once()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        await using var proxy = AnswerDroppingProxy.Start(service.BaseUrl);
        var partner = await database.NewPartnerAsync();
        var attempts = new AttemptRecorder();
        using var client = new OrderCancelClient(attempts.Client(partner.Key, proxy.BaseUri));

        proxy.DropNextAnswer();
        var created = await client.CreateOrderAsync(NewOrder("lost-answer"));

        Assert.Equal(1, proxy.Dropped);
        Assert.Equal(2, attempts.All.Count);
        Assert.Null(attempts.All[0].Status);
        Assert.Equal(HttpStatusCode.Created, attempts.All[1].Status);
        Assert.Equal(attempts.All[0].IdempotencyKey, attempts.All[1].IdempotencyKey);
        Assert.False(string.IsNullOrEmpty(attempts.All[0].IdempotencyKey));
        Assert.StartsWith("OrderCancel.Client/1.0.0 ", attempts.All[0].Request.Headers.UserAgent.ToString(), StringComparison.Ordinal);
        var orders = await client.ListOrdersAsync(q => q.Reference = "lost-answer").ToListAsync();
        Assert.Equal([created.Id], orders.Select(o => o.Id));
    }

    [Fact]
    public async Task A_503_while_the_database_is_away_is_waited_out_as_Retry_After_says_then_the_call_succeeds()
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var database_ = TcpProxy.Start(builder.Host!, builder.Port);
        builder.Host = "127.0.0.1";
        builder.Port = database_.Port;
        using var service = await ServiceProcess.StartAsync(builder.ConnectionString, Settings);
        var partner = await database.NewPartnerAsync();
        var attempts = new AttemptRecorder();
        using var client = new OrderCancelClient(attempts.Client(partner.Key, new Uri(service.BaseUrl)));
        var order = await client.CreateOrderAsync(NewOrder("outage"));

        database_.Cut();
        var reading = client.GetOrderAsync(order.Id!.Value);
        await Eventually.TrueAsync(() => attempts.All.Any(a => a.Status == HttpStatusCode.ServiceUnavailable), () => "No 503 while the database was away.");
        database_.Restore();
        var read = await reading;

        Assert.Equal(order.Id, read.Id);
        var refused = attempts.All.First(a => a.Status == HttpStatusCode.ServiceUnavailable);
        var next = attempts.All.First(a => a.SentAt > refused.SentAt);
        Assert.NotNull(refused.RetryAfter);
        Assert.True(next.SentAt - refused.AnsweredAt >= refused.RetryAfter!.Value - TimeSpan.FromMilliseconds(50), $"Retried {next.SentAt - refused.AnsweredAt} after a 503 with Retry-After {refused.RetryAfter}.");
        Assert.Equal(HttpStatusCode.OK, attempts.All[^1].Status);
    }

    [Fact]
    public async Task A_429_is_waited_out_as_Retry_After_says_and_a_422_is_not_retried_and_surfaces_its_errors()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, ClientServiceSettings.Create(permitsPerSecond: 3));
        var partner = await database.NewPartnerAsync();
        // Up to four retries each for 12 callers at 3 a second, with room to spare on a slow machine.
        var attempts = new AttemptRecorder(maxRetries: 8);
        using var client = new OrderCancelClient(attempts.Client(partner.Key, new Uri(service.BaseUrl)));
        await client.GetSettingsAsync();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        attempts.Clear();

        // Four times the bucket at once: some are limited even if a busy machine spreads them over two seconds.
        var settings = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.GetSettingsAsync()));

        Assert.All(settings, s => Assert.NotNull(s.ShippingOnPartialCancel));
        var limited = attempts.All.Where(a => a.Status == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(limited);
        foreach (var refused in limited)
        {
            var next = attempts.All.First(a => a.Request == refused.Request && a.SentAt > refused.SentAt);
            Assert.True(next.SentAt - refused.AnsweredAt >= refused.RetryAfter!.Value - TimeSpan.FromMilliseconds(50), $"Retried {next.SentAt - refused.AnsweredAt} after a 429 with Retry-After {refused.RetryAfter}.");
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        attempts.Clear();
        var order = NewOrder("invalid");
        order.Lines![0].Quantity = 0;
        var invalid = await Assert.ThrowsAsync<ProblemException>(() => client.CreateOrderAsync(order));

        Assert.Equal(422, invalid.Status);
        Assert.Equal(ProblemCode.Validation_failed, invalid.Code);
        Assert.Contains("lines[0].quantity", invalid.Errors.Keys);
        Assert.NotEmpty(invalid.Errors["lines[0].quantity"][0]);
        Assert.False(string.IsNullOrEmpty(invalid.TraceId));
        Assert.Single(attempts.All);
    }

    [Fact]
    public async Task Two_hundred_and_fifty_orders_listed_through_the_async_stream_come_each_once()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        var partner = await database.NewPartnerAsync();
        var services = new ServiceCollection();
        services.AddOrderCancelClient(partner.Key, new Uri(service.BaseUrl), options => options.MaxRetries = 2);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<OrderCancelClient>();

        var created = new ConcurrentBag<long>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 250), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, token) =>
        {
            var order = NewOrder($"stream-{i}");
            order.Customer!.Ref = "cus_stream";
            created.Add((await client.CreateOrderAsync(order, cancellationToken: token)).Id!.Value);
        });

        var listed = await client.ListOrdersAsync(q => { q.CustomerRef = "cus_stream"; q.Limit = 40; }).Select(o => o.Id!.Value).ToListAsync();

        Assert.Equal(250, listed.Count);
        Assert.Equal(created.Order(), listed.Order());
    }

    [Fact]
    public async Task A_real_delivery_is_verified_a_tampered_or_old_one_is_refused_and_both_secrets_pass_during_a_rotation()
    {
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, Settings);
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await database.NewPartnerAsync();
        using var client = new OrderCancelClient(partner.Key, new Uri(service.BaseUrl));
        var webhook = await client.CreateWebhookAsync(new CreateWebhookRequest { Url = receiver.Url, Events = [EventTypeOrAll.Asterisk] });

        var order = await client.CreateOrderAsync(NewOrder("hooked"));
        var delivery = (await receiver.WaitForAsync(r => r.Count >= 1))[0];
        var verified = new WebhookVerifier(webhook.Secret!).Verify(Headers(delivery), Encoding.UTF8.GetBytes(delivery.Body));
        Assert.Equal("order.created", verified.Type);
        Assert.Equal(order.Id, verified.Order!.Id);
        Assert.Equal(delivery.Id, verified.WebhookId);

        var tampered = delivery.Body.Replace("\"hooked\"", "\"hacked\"", StringComparison.Ordinal);
        Assert.NotEqual(delivery.Body, tampered);
        Assert.Throws<WebhookVerificationException>(() => new WebhookVerifier(webhook.Secret!).Verify(Headers(delivery), Encoding.UTF8.GetBytes(tampered)));
        var later = new Later(DateTimeOffset.FromUnixTimeSeconds(long.Parse(delivery.Timestamp, System.Globalization.CultureInfo.InvariantCulture)).AddMinutes(6));
        Assert.Throws<WebhookVerificationException>(() => new WebhookVerifier([webhook.Secret!], WebhookVerifier.DefaultTolerance, later).Verify(Headers(delivery), Encoding.UTF8.GetBytes(delivery.Body)));

        var rotated = await client.RotateWebhookSecretAsync(webhook.Id!.Value);
        await client.CancelOrderAsync(order.Id!.Value, new CancelOrderRequest { Reason = ClientCancellationReason.Customer_request });
        var afterRotation = (await receiver.WaitForAsync(r => r.Count >= 2))[1];
        Assert.Equal("order.cancelled", new WebhookVerifier(webhook.Secret!).Verify(Headers(afterRotation), Encoding.UTF8.GetBytes(afterRotation.Body)).Type);
        Assert.Equal("order.cancelled", new WebhookVerifier(rotated.Secret!).Verify(Headers(afterRotation), Encoding.UTF8.GetBytes(afterRotation.Body)).Type);
        Assert.Throws<WebhookVerificationException>(() => new WebhookVerifier(rotated.Secret!).Verify(Headers(delivery), Encoding.UTF8.GetBytes(delivery.Body)));
    }

    [Fact]
    public void Every_operation_of_the_document_is_a_method_of_the_library()
    {
        var document = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "openapi.json")))!;
        var operations = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Where(op => op.Value?["operationId"] is not null).Select(op => op.Value!["operationId"]!.GetValue<string>()))
            .ToList();
        var methods = typeof(OrderCancelClient).GetMethods().Select(m => m.Name).ToHashSet();

        Assert.True(operations.Count > 30, $"Only {operations.Count} operations read from openapi.json.");
        var missing = operations.Where(operation => !methods.Contains(operation + "Async")).ToList();
        Assert.True(missing.Count == 0, $"Operations without a method: {string.Join(", ", missing)}.");
    }

    [Fact]
    public async Task The_retry_handler_gives_up_at_once_on_a_Retry_After_past_its_deadline_and_never_retries_a_refusal()
    {
        var tries = 0;
        using var farOff = new HttpClient(new SafeRetryHandler(new OrderCancelClientOptions { RetryDeadline = TimeSpan.FromSeconds(10) })
        {
            InnerHandler = new Answering(() =>
            {
                tries++;
                var answer = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
                answer.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromHours(1));
                return answer;
            }),
        });
        // An hour's wait would outlast the test's own run; the answer comes back after one try.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await farOff.GetAsync(new Uri("http://127.0.0.1:1/v1/settings"))).StatusCode);
        Assert.Equal(1, tries);

        tries = 0;
        using var refusing = new HttpClient(new SafeRetryHandler(new OrderCancelClientOptions())
        {
            InnerHandler = new Answering(() =>
            {
                tries++;
                return new HttpResponseMessage(HttpStatusCode.Conflict) { Content = new StringContent("{\"code\":\"duplicate_reference\"}") };
            }),
        });
        Assert.Equal(HttpStatusCode.Conflict, (await refusing.PostAsync(new Uri("http://127.0.0.1:1/v1/orders"), new StringContent("{}"))).StatusCode);
        Assert.Equal(1, tries);
    }

    private sealed class Answering(Func<HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromResult(answer());
    }

    private static CreateOrderRequest NewOrder(string reference) => new()
    {
        Kind = OrderKind.One_time,
        Currency = "EUR",
        Reference = reference,
        Customer = new CustomerRequest { Ref = "cus_lib", Email = "lib@example.com", FirstName = "Li", LastName = "Brary" },
        Lines =
        [
            new LineRequest { Sku = "TEE-M", Name = "T-shirt M", Quantity = 3, UnitPrice = 19.90m },
            new LineRequest { Sku = "MUG", Name = "Mug", Quantity = 2, UnitPrice = 9.50m },
        ],
        ShippingCost = 4.90m,
    };

    private static async Task<CancellationJobResponse> WaitForJobAsync(OrderCancelClient client, Guid job)
    {
        CancellationJobResponse? state = null;
        await Eventually.TrueAsync(
            async () => (state = await client.GetCancellationJobAsync(job)).Status is CancellationJobStatus.Completed or CancellationJobStatus.Stopped,
            () => $"Job {job} is still {state?.Status}.");
        return state!;
    }

    private static Dictionary<string, string> Headers(ReceivedWebhook delivery) => new()
    {
        ["webhook-id"] = delivery.Id,
        ["webhook-timestamp"] = delivery.Timestamp,
        ["webhook-signature"] = delivery.Signature,
    };

    private sealed class Later(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>
    /// Every attempt the library sends, as the wire sees it (a handler under its <see cref="SafeRetryHandler"/>): the
    /// request it retries, its key, when it was sent and answered, its status (null: the connection was lost) and its
    /// <c>Retry-After</c>.
    /// </summary>
    private sealed class AttemptRecorder(int maxRetries = 4)
    {
        private readonly ConcurrentQueue<Attempt> _attempts = new();

        public List<Attempt> All => [.. _attempts.OrderBy(a => a.SentAt)];

        public void Clear() => _attempts.Clear();

        public HttpClient Client(string key, Uri baseUri)
        {
            var client = new HttpClient(new SafeRetryHandler(new OrderCancelClientOptions { MaxRetries = maxRetries }) { InnerHandler = new Recording(this) })
            {
                BaseAddress = baseUri,
            };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            return client;
        }

        public sealed record Attempt(HttpRequestMessage Request, string? IdempotencyKey, TimeSpan SentAt, TimeSpan AnsweredAt, HttpStatusCode? Status, TimeSpan? RetryAfter);

        private sealed class Recording(AttemptRecorder recorder) : DelegatingHandler(new SocketsHttpHandler())
        {
            private static readonly Stopwatch Clock = Stopwatch.StartNew();

            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                var key = request.Headers.TryGetValues(SafeRetryHandler.IdempotencyKeyHeader, out var keys) ? keys.Single() : null;
                var sentAt = Clock.Elapsed;
                try
                {
                    var response = await base.SendAsync(request, cancellationToken);
                    recorder._attempts.Enqueue(new Attempt(request, key, sentAt, Clock.Elapsed, response.StatusCode, response.Headers.RetryAfter?.Delta));
                    return response;
                }
                catch (HttpRequestException)
                {
                    recorder._attempts.Enqueue(new Attempt(request, key, sentAt, Clock.Elapsed, null, null));
                    throw;
                }
            }
        }
    }
}
