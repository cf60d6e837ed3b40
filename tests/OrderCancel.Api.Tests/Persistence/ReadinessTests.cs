using System.Globalization;
using System.Net;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using Serilog.Events;

namespace OrderCancel.Api.Tests;

/// <summary>
/// <c>/health/ready</c> during a database outage: a 503 with the same <c>Retry-After</c> as every other 503, and the
/// outage logged as requests log it (one warning when it starts, one when it ends), not one error per probe.
/// </summary>
public sealed class ReadinessTests(RequestLogTests.ProxiedApi api) : IClassFixture<RequestLogTests.ProxiedApi>
{
    [Fact]
    public async Task Readiness_during_an_outage_is_503_with_retry_after_and_the_outage_is_logged_once()
    {
        var partner = await api.NewPartnerAsync();
        var probe = api.ClientWithKey(null);
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/ready")).StatusCode);
        var before = api.Sink.Events.Count;

        api.Proxy.Cut();
        NpgsqlConnection.ClearAllPools();
        var during = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++)
        {
            during.Add(await probe.GetAsync("/health/ready"));
        }

        var fromProbes = api.Sink.Events.Skip(before).ToList();
        var request = await partner.Client.GetAsync("/v1/orders/1");
        api.Proxy.Restore();
        await api.Sink.WaitForAsync(e => e.MessageTemplate.Text.StartsWith("The database is reachable again", StringComparison.Ordinal));
        await Eventually.TrueAsync(
            async () => (await probe.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            () => "Readiness did not come back after the database did.");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, request.StatusCode);
        Assert.All(during, response => Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode));
        Assert.Single(fromProbes, e => e.MessageTemplate.Text.StartsWith("The database cannot be reached", StringComparison.Ordinal) && e.Level == LogEventLevel.Warning);
        var logged = api.Sink.Events.Skip(before).ToList();
        Assert.Single(logged, e => e.MessageTemplate.Text.StartsWith("The database cannot be reached", StringComparison.Ordinal) && e.Level == LogEventLevel.Warning);
        Assert.Single(logged, e => e.MessageTemplate.Text.StartsWith("The database is reachable again", StringComparison.Ordinal) && e.Level == LogEventLevel.Warning);
        Assert.DoesNotContain(logged, e => e.Exception is not null);
        var errors = logged.Where(e => e.Level >= LogEventLevel.Error && !IsRequestLine(e)).Select(e => e.RenderMessage(CultureInfo.InvariantCulture)).ToList();
        Assert.True(errors.Count == 0, "Logged besides the outage:\n" + string.Join("\n", errors));
        Assert.All(during, response => Assert.Equal(request.Headers.RetryAfter?.ToString(), response.Headers.RetryAfter?.ToString()));
        Assert.NotNull(request.Headers.RetryAfter);
    }

    [Fact]
    public async Task Health_probes_answered_or_refused_write_no_request_line_above_debug()
    {
        var probe = api.ClientWithKey(null);
        var before = api.Sink.Events.Count;
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/ready")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/live")).StatusCode);
        }

        // A request beside them still writes its line, so the sink did hear the requests of this test.
        var partner = await api.NewPartnerAsync();
        await partner.Client.GetAsync("/v1/orders");
        await api.Sink.WaitForAsync(e => IsRequestLine(e) && e.RenderMessage(CultureInfo.InvariantCulture).Contains("/v1/orders", StringComparison.Ordinal));

        var lines = api.Sink.Events.Skip(before).Where(e => IsRequestLine(e) && e.Level >= LogEventLevel.Information).Select(e => e.RenderMessage(CultureInfo.InvariantCulture)).ToList();
        Assert.DoesNotContain(lines, line => line.Contains("/health", StringComparison.Ordinal));
    }

    private static bool IsRequestLine(LogEvent e) => e.MessageTemplate.Text.StartsWith("HTTP", StringComparison.Ordinal);
}
