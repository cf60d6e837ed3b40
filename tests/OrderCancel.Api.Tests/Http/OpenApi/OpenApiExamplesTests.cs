using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// "Try it out" works: the request examples the document carries, sent as Swagger UI sends them (the first one of an
/// operation is its default), succeed in the order a newcomer tries them, each on the ids the earlier ones answered.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class OpenApiExamplesTests(ApiFactory api)
{
    [Fact]
    public async Task Every_request_body_has_examples_that_match_its_schema()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));

        foreach (var (path, method, operation) in document.Operations())
        {
            if (operation["requestBody"]?["content"]?["application/json"] is not { } json)
            {
                continue;
            }

            var examples = json["examples"]?.AsObject();
            Assert.True(examples is { Count: > 0 }, $"{method} {path} has a body but no examples");
            foreach (var (name, example) in examples)
            {
                Assert.False(string.IsNullOrEmpty(example!["summary"]?.GetValue<string>()), $"{method} {path} example {name} has no summary");
                document.AssertMatches(json["schema"]!, JsonSerializer.SerializeToElement(example["value"]), $"{method} {path} example {name}");
            }
        }
    }

    [Fact]
    public async Task The_default_examples_succeed_in_sequence_and_the_named_ones_do_what_they_say()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var partner = await api.NewPartnerAsync();
        async Task<JsonElement> Send(string method, string template, string path, HttpStatusCode expected, string? example = null)
        {
            var body = Example(document, template, method, example);
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = Requests.Json(body) };
            var response = await partner.Client.SendAsync(request);
            Assert.True(expected == response.StatusCode, $"{method} {path} with example {example ?? "(default)"} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return await document.AssertDocumentedAsync(response, method, template);
        }

        async Task<JsonElement> CreateAsync() => await Send("POST", "/v1/orders", "/v1/orders", HttpStatusCode.Created);

        var created = await CreateAsync();
        Assert.Equal("pending", created.GetProperty("status").GetString());
        var paid = await Send("POST", "/v1/orders/{id}/payments", $"/v1/orders/{created.Id()}/payments", HttpStatusCode.OK);
        Assert.Equal("paid", paid.GetProperty("status").GetString());

        var toCancel = await CreateAsync();
        var preview = await Send("POST", "/v1/orders/{id}/cancel/preview", $"/v1/orders/{toCancel.Id()}/cancel/preview", HttpStatusCode.OK);
        Assert.True(preview.GetProperty("allowed").GetBoolean());
        var cancelled = await Send("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{toCancel.Id()}/cancel", HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        var reactivated = await Send("POST", "/v1/orders/{id}/reactivate", $"/v1/orders/{toCancel.Id()}/reactivate", HttpStatusCode.OK);
        Assert.Equal("pending", reactivated.GetProperty("status").GetString());
        await Send("POST", "/v1/test/orders/{id}/cancel", $"/v1/test/orders/{toCancel.Id()}/cancel", HttpStatusCode.OK);
        var reactivation = await Send("POST", "/v1/orders/{id}/reactivate", $"/v1/orders/{toCancel.Id()}/reactivate", HttpStatusCode.Accepted, "scheduled");
        Assert.NotEqual(JsonValueKind.Null, reactivation.GetProperty("order").GetProperty("scheduled_reactivation").ValueKind);

        var partial = await CreateAsync();
        var lineId = partial.GetProperty("lines")[0].GetProperty("id").GetInt64();
        var body = Example(document, "/v1/orders/{id}/cancel", "POST", "partial");
        body["items"]![0]!["line_id"] = lineId;
        var partly = await partner.Client.PostAsync($"/v1/orders/{partial.Id()}/cancel", Requests.Json(body));
        var partlyCancelled = await document.AssertDocumentedAsync(partly, "POST", "/v1/orders/{id}/cancel");
        Assert.Equal(HttpStatusCode.OK, partly.StatusCode);
        Assert.Equal("pending", partlyCancelled.GetProperty("status").GetString());
        var scheduled = await Send("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{partial.Id()}/cancel", HttpStatusCode.Accepted, "scheduled");
        Assert.NotEqual(JsonValueKind.Null, scheduled.GetProperty("order").GetProperty("scheduled_cancellation").ValueKind);

        var run = await Send("POST", "/v1/test/scheduled-changes/run", "/v1/test/scheduled-changes/run", HttpStatusCode.OK);
        Assert.Equal(2, run.GetProperty("applied").GetInt32());
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(partial.Id())).GetProperty("status").GetString());
        Assert.Equal("pending", (await partner.Client.GetOrderAsync(toCancel.Id())).GetProperty("status").GetString());

        var recurring = await Send("POST", "/v1/orders", "/v1/orders", HttpStatusCode.Created, "recurring");
        Assert.Equal("active", recurring.GetProperty("status").GetString());
        await Send("POST", "/v1/webhooks", "/v1/webhooks", HttpStatusCode.Created);
    }

    [Fact]
    public async Task The_cancellation_job_examples_do_what_they_say_on_the_create_examples_order()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var partner = await api.NewPartnerAsync();
        var order = await (await partner.Client.PostAsync("/v1/orders", Requests.Json(Example(document, "/v1/orders", "POST", null)))).ShouldBeAsync(HttpStatusCode.Created);
        async Task<JsonElement> RunAsync(string? example)
        {
            var response = await partner.Client.PostAsync("/v1/cancellation-jobs", Requests.Json(Example(document, "/v1/cancellation-jobs", "POST", example)));
            var job = await document.AssertDocumentedAsync(response, "POST", "/v1/cancellation-jobs");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return await partner.Client.WaitForJobAsync(job.GetProperty("id").GetGuid());
        }

        var dry = await RunAsync(null);
        Assert.True(dry.GetProperty("dry_run").GetBoolean());
        Assert.Equal(1, dry.GetProperty("counts").GetProperty("partially_cancelled").GetInt32());
        Assert.Equal(0, (await partner.Client.GetOrderAsync(order.Id())).GetProperty("lines")[1].GetProperty("cancelled_quantity").GetInt32());

        var recall = await RunAsync("recall");
        Assert.Equal(Jobs.Totals(dry), Jobs.Totals(recall));
        var lines = (await partner.Client.GetOrderAsync(order.Id())).GetProperty("lines");
        Assert.Equal([0, 1], lines.EnumerateArray().Select(l => l.GetProperty("cancelled_quantity").GetInt32()));

        var scheduled = await RunAsync("scheduled");
        Assert.Equal(1, scheduled.GetProperty("counts").GetProperty("scheduled").GetInt32());
        var byIds = await RunAsync("by_ids");
        Assert.Equal(3, byIds.GetProperty("counts").GetProperty("processed").GetInt32());
    }

    /// <summary>The named example's value, or the first one's: what Swagger UI fills in.</summary>
    private static JsonNode Example(ServedDocument document, string path, string method, string? name)
    {
        var examples = document.Operation(path, method)["requestBody"]!["content"]!["application/json"]!["examples"]!.AsObject();
        var example = name is null ? examples.First().Value! : examples[name]!;
        return example["value"]!.DeepClone();
    }
}
