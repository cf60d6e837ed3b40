using System.Net;
using System.Net.Sockets;
using System.Text;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The inputs a fuzz run once turned into 500s, each now a problem that names what to fix and changes nothing, and
/// the answers the framework writes itself, which carry our type, code and a detail written for the partner.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class HostileInputTests(ApiFactory api)
{
    [Theory]
    [InlineData("note", "customer_request")]
    [InlineData("reason", null)]
    public async Task A_nul_character_in_a_cancel_body_is_422_on_its_property_and_changes_nothing(string property, string? reason)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());
        var body = property == "note"
            ? $$"""{"reason":"{{reason}}","note":"a\u0000b"}"""
            : """{"reason":"other\u0000"}""";

        var response = await partner.Client.CancelAsync(order.Id(), body);

        await response.ShouldBeValidationProblemAsync(property);
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task Nul_characters_anywhere_in_a_new_order_are_422_naming_each_property()
    {
        var partner = await api.NewPartnerAsync();
        var body = NewOrder(reference: "ref\u0000");
        body["customer"]!["first_name"] = "A\u0000da";
        body["lines"]![0]!["sku"] = "\u0000";
        body["metadata"] = new System.Text.Json.Nodes.JsonObject { ["insurer"] = "Acme\u0000" };

        var response = await partner.Client.PostAsync("/v1/orders", Requests.Json(body));

        await response.ShouldBeValidationProblemAsync("reference", "customer.first_name", "lines[0].sku", "metadata.insurer");
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task An_unpaired_surrogate_escape_is_422_on_its_property()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.CancelAsync(order.Id(), """{"reason":"other","note":"x\ud800y"}""");

        await response.ShouldBeValidationProblemAsync("note");
    }

    [Theory]
    [InlineData("customer_ref")]
    [InlineData("reference")]
    public async Task A_nul_in_a_list_filter_is_422_on_the_query_parameter(string parameter)
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.GetAsync($"/v1/orders?{parameter}=a%00b");

        await response.ShouldBeValidationProblemAsync(parameter);
    }

    [Fact]
    public async Task Invalid_utf8_inside_a_json_string_is_400_malformed_json()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var content = new ByteArrayContent([.. "{\"reason\":\""u8, 0xC3, 0x28, .. "\"}"u8]);
        content.Headers.ContentType = new("application/json");

        var response = await partner.Client.PostAsync($"/v1/orders/{order.Id()}/cancel", content);

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        Assert.Contains("UTF-8", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_instant_with_a_non_z_offset_is_the_same_instant_in_utc()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json("""{"as_of":"2030-01-01T00:00:00+14:00"}"""));

        await response.ShouldBeAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Invalid_json_says_where_it_broke_in_the_partners_terms()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();

        var response = await partner.Client.CancelAsync(order.Id(), """{"reason": customer_request}""");

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("line 1", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("reader options", detail, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("GET", "/v1/orders/abc", HttpStatusCode.NotFound, "not_found")]
    [InlineData("GET", "/", HttpStatusCode.NotFound, "not_found")]
    [InlineData("PUT", "/v1/orders/1", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    public async Task Answers_the_framework_writes_are_our_problems_with_a_detail(string method, string path, HttpStatusCode status, string code)
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        var problem = await response.ShouldBeProblemAsync(status, code);
        Assert.Equal($"https://ordercancel.dev/problems/{code}", problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }
}

/// <summary>A body sent more slowly than Kestrel's minimum data rate gets a 408 problem, not a bare 400.</summary>
public sealed class SlowBodyTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    [Fact]
    public async Task A_body_slower_than_the_minimum_rate_is_answered_with_a_request_timeout_problem()
    {
        var partner = await database.NewPartnerAsync();
        var order = await database.WithDbAsync(_ => partner.Client.CreateOrderAsync());
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string> { ["Database__MigrateOnStartup"] = "false" });
        var uri = new Uri(service.BaseUrl);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var stream = tcp.GetStream();
        var head = $"POST /v1/orders/{order.Id()}/cancel HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {partner.Key}\r\n"
            + "Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{\"reason\":";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));

        // Nothing more arrives: after Kestrel's five-second grace period the rate is below its 240 bytes a second.
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("HTTP/1.1 408", answer, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", answer, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"request_timeout\"", answer, StringComparison.Ordinal);
    }
}
