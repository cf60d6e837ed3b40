using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using Serilog.Core;
using Serilog.Events;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The request log tells the truth: each line carries the status the client got, at a level that fits it, with no
/// stack trace for an expected refusal; a database outage is one warning when it starts and one when it ends.
/// </summary>
public sealed class RequestLogTests(RequestLogTests.ProxiedApi api) : IClassFixture<RequestLogTests.ProxiedApi>
{
    [Theory]
    [InlineData("""{"reason":"customer_request","efective_date":"2030-01-01"}""", "application/json", 422)]
    [InlineData("""{"reason":"customer_request"}""", "text/plain", 415)]
    [InlineData("""{"reason":""", "application/json", 400)]
    public async Task A_refused_body_is_logged_with_its_status_at_information_without_an_exception(string body, string mediaType, int status)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel", new StringContent(body, System.Text.Encoding.UTF8, mediaType));

        Assert.Equal(status, (int)response.StatusCode);
        var line = await RequestLineAsync(partner, $"/v1/orders/{order.Id()}/cancel");
        Assert.Equal(status, StatusOf(line));
        Assert.Equal(LogEventLevel.Information, line.Level);
        Assert.Null(line.Exception);
    }

    [Fact]
    public async Task A_real_500_is_logged_as_500_at_error_with_its_stack_once()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await api.WithDbAsync(db => db.Database.ExecuteSqlAsync($"UPDATE orders SET status = 'corrupted_xyz' WHERE id = {order.Id()}"));

        var response = await partner.Client.GetAsync($"/v1/orders/{order.Id()}");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var line = await RequestLineAsync(partner, $"/v1/orders/{order.Id()}");
        Assert.Equal(500, StatusOf(line));
        Assert.Equal(LogEventLevel.Error, line.Level);
        var fault = await api.Sink.WaitForAsync(e => e.Exception is not null && e.MessageTemplate.Text.StartsWith("Unexpected fault", StringComparison.Ordinal)
            && e.Properties["Path"].ToString().Contains($"/v1/orders/{order.Id()}", StringComparison.Ordinal));
        Assert.Equal(LogEventLevel.Error, fault.Level);
    }

    [Fact]
    public async Task A_database_outage_answers_503_logs_one_warning_when_it_starts_and_one_when_it_ends()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = api.Sink.Events.Count;

        api.Proxy.Cut();
        NpgsqlConnection.ClearAllPools();
        var during = new List<HttpResponseMessage>();
        for (var i = 0; i < 20; i++)
        {
            during.Add(await partner.Client.GetAsync($"/v1/orders/{order.Id()}"));
        }

        api.Proxy.Restore();
        await api.Sink.WaitForAsync(e => e.MessageTemplate.Text.StartsWith("The database is reachable again", StringComparison.Ordinal));
        var after = await partner.Client.GetAsync($"/v1/orders/{order.Id()}");

        Assert.All(during, response => Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode));
        Assert.All(during, response => Assert.NotNull(response.Headers.RetryAfter));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        var logged = api.Sink.Events.Skip(before).ToList();
        Assert.Single(logged, e => e.MessageTemplate.Text.StartsWith("The database cannot be reached", StringComparison.Ordinal) && e.Level == LogEventLevel.Warning);
        Assert.Single(logged, e => e.MessageTemplate.Text.StartsWith("The database is reachable again", StringComparison.Ordinal) && e.Level == LogEventLevel.Warning);
        Assert.DoesNotContain(logged, e => e.Exception is not null);
        var lines = logged.Where(e => IsRequestLine(e) && e.Properties["RequestPath"].ToString().Contains($"/v1/orders/{order.Id()}", StringComparison.Ordinal)).ToList();
        Assert.Equal(20, lines.Count(e => StatusOf(e) == 503 && e.Level == LogEventLevel.Error));
    }

    private static bool IsRequestLine(LogEvent e) => e.MessageTemplate.Text.StartsWith("HTTP", StringComparison.Ordinal);

    private static int StatusOf(LogEvent e) => int.Parse(e.Properties["StatusCode"].ToString(), System.Globalization.CultureInfo.InvariantCulture);

    private Task<LogEvent> RequestLineAsync(TestPartner partner, string path) =>
        api.Sink.WaitForAsync(e => IsRequestLine(e)
            && e.Properties.TryGetValue("PartnerId", out var id) && id.ToString().Contains(partner.Id.ToString(), StringComparison.Ordinal)
            && e.Properties["RequestPath"].ToString() == $"\"{path}\"");

    /// <summary>The service reaching PostgreSQL through a proxy the test can cut, with its log captured.</summary>
    /// <summary>The service on a database behind <see cref="TcpProxy"/>, which a test can cut and restore.</summary>
    public class ProxiedApi : ApiFactory
    {
        private readonly Lazy<TcpProxy> _proxy;

        public ProxiedApi()
        {
            var server = new NpgsqlConnectionStringBuilder(ConnectionString);
            _proxy = new(() => TcpProxy.Start(server.Host!, server.Port));
        }

        public TcpProxy Proxy => _proxy.Value;

        public LoggingTests.CapturingSink Sink { get; } = new();

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Serilog:MinimumLevel:Default"] = "Information",
            ["ConnectionStrings:Orders"] = new NpgsqlConnectionStringBuilder(ConnectionString)
            {
                Host = "127.0.0.1",
                Port = Proxy.Port,
                Timeout = 2,
            }.ConnectionString,
        };

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.AddSingleton<ILogEventSink>(Sink));
        }
    }
}
