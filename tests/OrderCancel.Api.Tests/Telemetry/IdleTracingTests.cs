using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Scheduling;
using OrderCancel.Api.Tests.Infrastructure;
using OrderCancel.Api.Webhooks;

namespace OrderCancel.Api.Tests;

/// <summary>
/// What tracing costs while nothing happens: the webhook dispatcher, the scheduler, the jobs runner and the gauges poll
/// the database all day, and a poll that finds nothing makes no span (it used to export a batch every few seconds);
/// the work a poll finds is still traced.
/// </summary>
public sealed class IdleTracingTests(IdleTracingTests.PollingApi api) : IClassFixture<IdleTracingTests.PollingApi>
{
    [Fact]
    public async Task Idle_polls_make_no_spans_and_a_delivered_webhook_and_a_job_still_do()
    {
        await api.WaitForPollsAsync(rounds: 1);
        var idleFrom = DateTime.UtcNow;
        await api.WaitForPollsAsync(rounds: 3);
        api.ReadGauges();
        Assert.True(api.SpansSince(idleFrom).Count == 0, $"Idle polls made spans: {PollingApi.Describe(api.SpansSince(idleFrom))}");

        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var (endpointId, _) = await WebhookTests.RegisterAsync(partner, receiver.Url, "order.cancelled");
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var other = await partner.Client.CreateOrderAsync();
        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{other.Id()}}],"reason":"out_of_stock"}""");
        await partner.Client.WaitForJobAsync(job);

        // Both cancellations are delivered; a send's span ends once its outcome is recorded.
        await receiver.WaitForAsync(received => received.Count >= 2);
        await Eventually.TrueAsync(() => api.Sends(endpointId).Count >= 2, () => $"Not every delivery was a webhook.send span: {PollingApi.Describe(api.Spans)}");
        var send = api.Sends(endpointId)[0];
        Assert.Contains(api.Spans, s => s.ParentSpanId == send.SpanId && s.Source.Name.StartsWith("System.Net.Http", StringComparison.Ordinal));
        Assert.Contains(api.Spans, s => s.TraceId == send.TraceId && api.IsThisDatabase(s));
        Assert.Contains(api.Spans, s => s.OperationName == "webhook.claim" && api.Spans.Any(q => q.ParentSpanId == s.SpanId && api.IsThisDatabase(q)));
        Assert.Contains(api.Spans, s => s.OperationName == "cancellation_job.start" && Equals(s.GetTagItem("ordercancel.job.id"), job));
        Assert.Contains(api.Spans, s => s.OperationName == "cancellation_job.batch" && Equals(s.GetTagItem("ordercancel.job.id"), job));

        // Once the work is done, the polls are quiet again.
        await api.WaitForPollsAsync(rounds: 1);
        var idleAgain = DateTime.UtcNow;
        await api.WaitForPollsAsync(rounds: 3);
        Assert.True(api.SpansSince(idleAgain).Count == 0, $"Idle polls after the work made spans: {PollingApi.Describe(api.SpansSince(idleAgain))}");
    }

    /// <summary>
    /// The service in memory, every loop polling every 100 ms, with every span kept. Spans are process-wide (other test
    /// classes run services beside this one), so this service's are told apart by its database.
    /// </summary>
    public sealed class PollingApi : ApiFactory
    {
        public ConcurrentQueue<Activity> Spans { get; } = new();

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Scheduling:PollInterval"] = "00:00:00.100",
            ["CancellationJobs:PollInterval"] = "00:00:00.100",
            ["Webhooks:PollInterval"] = "00:00:00.100",
        };

        /// <summary>
        /// The spans begun since <paramref name="from"/> by this service: its SQL (on its own database) and the spans of
        /// the traces that SQL belongs to.
        /// </summary>
        public List<Activity> SpansSince(DateTime from)
        {
            var spans = Spans.Where(s => s.StartTimeUtc >= from).ToList();
            var traces = spans.Where(IsThisDatabase).Select(s => s.TraceId).ToHashSet();
            return [.. spans.Where(s => traces.Contains(s.TraceId))];
        }

        public List<Activity> Sends(Guid endpointId) =>
            [.. Spans.Where(s => s.OperationName == "webhook.send" && Equals(s.GetTagItem("ordercancel.webhook.endpoint_id"), endpointId))];

        public bool IsThisDatabase(Activity span) =>
            span.Source.Name == "Npgsql"
            && (Equals(span.GetTagItem("db.namespace"), DatabaseName) || span.OperationName == $"CONNECT {DatabaseName}");

        public static string Describe(IEnumerable<Activity> spans) =>
            string.Join(", ", spans.Select(s => $"{s.Source.Name}:{s.DisplayName} {s.GetTagItem("db.query.text")}".Trim()));

        /// <summary>Waits until the scheduler, the jobs runner and the dispatcher have each finished as many rounds begun from now.</summary>
        public async Task WaitForPollsAsync(int rounds)
        {
            var scheduler = Services.GetServices<IHostedService>().OfType<ScheduledChangeWorker>().Single();
            var jobs = Services.GetRequiredService<CancellationJobWorker>();
            var dispatcher = Services.GetRequiredService<WebhookDispatcher>();
            for (var round = 0; round < rounds; round++)
            {
                var from = DateTimeOffset.UtcNow;
                await Eventually.TrueAsync(
                    () => scheduler.LastRoundAsOf >= from && jobs.LastRoundAsOf >= from && dispatcher.LastPollAsOf >= from,
                    () => "The background loops did not poll.");
            }
        }

        /// <summary>Reads the gauges as a metrics collection does (an OTLP export, a scrape): outside any request.</summary>
        public void ReadGauges()
        {
            var meters = Services.GetRequiredService<IMeterFactory>();
            using var listener = new MeterListener
            {
                InstrumentPublished = (instrument, listening) =>
                {
                    if (instrument.Meter.Scope == meters && instrument.Name == "ordercancel.webhook.backlog")
                    {
                        listening.EnableMeasurementEvents(instrument);
                    }
                },
            };
            long? backlog = null;
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => backlog = value);
            listener.Start();
            listener.RecordObservableInstruments();
            Assert.Equal(0, backlog);
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddProcessor(new Keep(Spans))));
        }

        private sealed class Keep(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
        {
            public override void OnEnd(Activity data) => spans.Enqueue(data);
        }
    }
}
