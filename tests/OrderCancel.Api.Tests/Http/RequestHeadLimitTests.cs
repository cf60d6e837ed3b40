using System.Net;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// A request line or headers over the limits are answered with our problem (414 <c>uri_too_long</c>, 431
/// <c>request_header_fields_too_large</c>), not Kestrel's bare status. Kestrel's limits only apply in a real server,
/// so these run the service as a process.
/// </summary>
public sealed class RequestHeadLimitTests(RequestHeadLimitTests.RunningService running) : IClassFixture<RequestHeadLimitTests.RunningService>
{
    [Fact]
    public async Task A_20000_character_cursor_is_a_414_uri_too_long_problem()
    {
        var response = await running.Client.GetAsync("/v1/orders?cursor=" + new string('a', 20_000));

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.RequestUriTooLong, "uri_too_long");
        Assert.Contains("8192", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_long_cursor_under_the_limit_is_still_judged_by_the_route()
    {
        var response = await running.Client.GetAsync("/v1/orders?cursor=" + new string('a', 7_000));

        await response.ShouldBeValidationProblemAsync("cursor");
    }

    [Fact]
    public async Task Headers_over_32_KiB_are_a_431_request_header_fields_too_large_problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/orders");
        request.Headers.Add("X-Padding", new string('a', 40_000));

        var response = await running.Client.SendAsync(request);

        await response.ShouldBeProblemAsync(HttpStatusCode.RequestHeaderFieldsTooLarge, "request_header_fields_too_large");
    }

    [Fact]
    public async Task More_than_100_headers_are_a_431_request_header_fields_too_large_problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/orders");
        for (var i = 0; i < 150; i++)
        {
            request.Headers.Add($"X-Header-{i}", "1");
        }

        var response = await running.Client.SendAsync(request);

        await response.ShouldBeProblemAsync(HttpStatusCode.RequestHeaderFieldsTooLarge, "request_header_fields_too_large");
    }

    /// <summary>A database with a partner, and the service over it as a process (Kestrel, not the in-memory test server).</summary>
    public sealed class RunningService : IAsyncLifetime, IDisposable
    {
        private readonly DatabaseOnly _database = new();
        private ServiceProcess? _service;

        public HttpClient Client { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await ((IAsyncLifetime)_database).InitializeAsync();
            var partner = await _database.NewPartnerAsync();
            _service = await ServiceProcess.StartAsync(_database.ConnectionString, new Dictionary<string, string> { ["Database__MigrateOnStartup"] = "false" });
            Client = _service.Client(partner.Key);
        }

        /// <summary>Stops the process, then drops the database, which disposes its factory.</summary>
        public async Task DisposeAsync()
        {
            Dispose();
            await ((IAsyncLifetime)_database).DisposeAsync();
        }

        /// <summary>
        /// Runs twice (xUnit calls it after <see cref="DisposeAsync"/>), so it forgets what it disposed: a second
        /// ServiceProcess.Dispose threw InvalidOperationException, a class clean-up failure that failed a CI run. The
        /// factory is left to <see cref="DisposeAsync"/>.
        /// </summary>
        public void Dispose()
        {
            Client?.Dispose();
            _service?.Dispose();
            _service = null;
        }
    }
}
