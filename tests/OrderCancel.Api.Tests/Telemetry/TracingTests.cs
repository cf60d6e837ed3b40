using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Traces as an operator follows a failed cancellation: the caller's <c>traceparent</c> is honoured and answered in
/// <c>traceresponse</c> and the problem's <c>trace_id</c>; a request's SQL, a scheduler run's batches and each webhook
/// send are spans with the ids that find them.
/// </summary>
public sealed class TracingTests(TracingTests.TracedApi api) : IClassFixture<TracingTests.TracedApi>
{
    [Fact]
    public async Task A_traceparent_is_honoured_and_its_trace_id_answered_in_traceresponse_and_the_problem_body()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await partner.Client.PayAsync(order);
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/cancel") { Content = Requests.Json("""{"reason":"customer_request"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        var response = await partner.Client.SendAsync(request);

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_paid");
        var answered = response.Headers.GetValues("traceresponse").Single();
        Assert.Equal(problem.GetProperty("trace_id").GetString(), answered);
        Assert.Equal(traceId, answered.Split('-')[1]);
        // The server span ends after the response has gone out, so it may reach the exporter after the client has read it.
        await Eventually.TrueAsync(
            () => api.SpansOf(traceId).Any(s => s.Kind == ActivityKind.Server && s.GetTagItem("http.response.status_code") is 400),
            () => "No server span of the request's trace with status 400.");
        Assert.Contains(api.SpansOf(traceId), s => s.Source.Name == "Npgsql");
    }

    [Fact]
    public async Task A_response_without_a_traceparent_names_a_new_trace()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync("/v1/orders/424242424");

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "order_not_found");
        var answered = response.Headers.GetValues("traceresponse").Single();
        Assert.Equal(problem.GetProperty("trace_id").GetString(), answered);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", answered);
    }

    [Fact]
    public async Task A_scheduler_run_traces_its_batches_and_a_webhook_send_is_a_span_with_its_ids()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        var webhook = await (await partner.Client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{receiver.Url}}","events":["order.cancelled"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        var endpointId = webhook.GetProperty("id").GetString();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(2)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var run = new HttpRequestMessage(HttpMethod.Post, "/v1/test/scheduled-changes/run")
        {
            Content = Requests.Json(JsonSerializer.Serialize(new { as_of = DateTimeOffset.UtcNow.AddDays(3) })),
        };
        run.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        await (await partner.Client.SendAsync(run)).ShouldBeAsync(HttpStatusCode.OK);

        var batch = Assert.Single(api.SpansOf(traceId), s => s.OperationName == "scheduler.batch");
        Assert.Equal(1, batch.GetTagItem("ordercancel.batch.applied"));
        var delivered = await receiver.WaitForAsync(received => received.Count >= 1);
        Activity? send = null;
        await Eventually.TrueAsync(
            () => (send = api.Spans.FirstOrDefault(s => s.OperationName == "webhook.send" && (s.GetTagItem("ordercancel.webhook.endpoint_id") as Guid?)?.ToString() == endpointId)) is not null,
            () => "No webhook.send span for the endpoint.");
        Assert.Equal(delivered[0].Id, (send!.GetTagItem("webhook.id") as Guid?)?.ToString());
        Assert.Equal(1, send.GetTagItem("ordercancel.webhook.attempt"));
        Assert.NotNull(send.GetTagItem("ordercancel.webhook.delivery_id"));
        Assert.Equal("succeeded", send.GetTagItem("ordercancel.webhook.outcome"));
        Assert.Contains(api.Spans, s => s.Kind == ActivityKind.Client && s.ParentSpanId == send.SpanId && s.Source.Name.StartsWith("System.Net.Http", StringComparison.Ordinal));
    }

    /// <summary>The service in memory with every span it ends kept for the test to read.</summary>
    public sealed class TracedApi : ApiFactory
    {
        public ConcurrentQueue<Activity> Spans { get; } = new();

        public List<Activity> SpansOf(string traceId) => [.. Spans.Where(s => s.TraceId.ToHexString() == traceId)];

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
