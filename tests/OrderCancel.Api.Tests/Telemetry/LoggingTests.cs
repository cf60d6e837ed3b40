using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrderCancel.Api.Telemetry;
using OrderCancel.Api.Tests.Infrastructure;
using Serilog.Core;
using Serilog.Events;

namespace OrderCancel.Api.Tests;

/// <summary>Request logs carry the partner and trace ids, and never a key, a secret or a card-like number.</summary>
public sealed class LoggingTests(LoggingTests.CapturingApi api) : IClassFixture<LoggingTests.CapturingApi>
{
    [Fact]
    public async Task Request_logs_name_the_partner_and_trace_but_never_the_key()
    {
        var partner = await api.NewPartnerAsync();
        await partner.Client.CreateOrderAsync();

        // The request log is written as the request completes, which may be just after the client has its answer.
        var request = await api.Sink.WaitForAsync(e => e.MessageTemplate.Text.StartsWith("HTTP", StringComparison.Ordinal)
            && e.Properties.TryGetValue("PartnerId", out var id) && id.ToString().Contains(partner.Id.ToString(), StringComparison.Ordinal));
        Assert.Equal($"\"{partner.Id}\"", request.Properties["PartnerId"].ToString());
        Assert.Matches("^\"[0-9a-f]{32}\"$", request.Properties["TraceId"].ToString());
        Assert.DoesNotContain(api.Sink.Events, e => e.RenderMessage(CultureInfo.InvariantCulture).Contains(partner.Key, StringComparison.Ordinal)
            || e.Properties.Values.Any(v => v.ToString().Contains(partner.Key, StringComparison.Ordinal)));
        Assert.DoesNotContain(api.Sink.Events, e => e.Properties.Values.Any(v => v.ToString().Contains(ApiFactory.AdminKey, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Card_like_numbers_are_masked_in_logs()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync("/v1/orders/4111111111111111");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await api.Sink.WaitForAsync(e => e.Properties.TryGetValue("PartnerId", out var id) && id.ToString().Contains(partner.Id.ToString(), StringComparison.Ordinal)
            && e.Properties.TryGetValue("RequestPath", out var path) && path.ToString().Contains("1111", StringComparison.Ordinal));
        Assert.DoesNotContain(api.Sink.Events, e => e.Properties.Values.Any(v => v.ToString().Contains("4111111111111111", StringComparison.Ordinal)));
        Assert.Contains(api.Sink.Events, e => e.Properties.Values.Any(v => v.ToString().Contains("************1111", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_logger_factory_makes_one_logger_per_category_that_writes_through_serilog()
    {
        var factory = api.Services.GetRequiredService<ILoggerFactory>();
        var category = $"OrderCancel.Tests.{Guid.NewGuid():N}";
        var marker = Guid.NewGuid().ToString();

        var logger = factory.CreateLogger(category);
        logger.LogWarning("Marker {Marker}", marker);

        Assert.Same(logger, factory.CreateLogger(category));
        var written = Assert.Single(api.Sink.Events, e => e.Properties.TryGetValue("Marker", out var value)
            && value.ToString().Contains(marker, StringComparison.Ordinal));
        Assert.Equal($"\"{category}\"", written.Properties["SourceContext"].ToString());
    }

    [Theory]
    [InlineData("card 4111 1111 1111 1111 ok", "card ***************1111 ok")]
    [InlineData("order 123456", "order 123456")]
    [InlineData("4111-1111-1111-1111", "***************1111")]
    [InlineData("trace 17c7fac5f0f2fb4e7b12345678905048", "trace 17c7fac5f0f2fb4e7b12345678905048")]
    [InlineData("partner 12345678-1234-5678-9abc-def012345678", "partner 12345678-1234-5678-9abc-def012345678")]
    public void Masking_keeps_only_the_last_four_digits(string text, string expected) =>
        Assert.Equal(expected, CardNumberMasking.Mask(text));

    public sealed class CapturingApi : ApiFactory
    {
        public CapturingSink Sink { get; } = new();

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Serilog:MinimumLevel:Default"] = "Information",
        };

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.AddSingleton<ILogEventSink>(Sink));
        }
    }

    public sealed class CapturingSink : ILogEventSink
    {
        private readonly ConcurrentQueue<LogEvent> _events = new();

        public IReadOnlyList<LogEvent> Events => [.. _events];

        public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);

        public async Task<LogEvent> WaitForAsync(Func<LogEvent, bool> match)
        {
            await Eventually.TrueAsync(() => Events.Any(match), () => "The expected log event was not written.", seconds: 10);
            return Events.Last(match);
        }
    }
}
