using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrderCancel.Api.Http;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The OpenAPI document is the contract partners generate clients from: it is the checked-in <c>openapi.json</c>,
/// and every answer the service gives matches what it declares for that operation and status.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class OpenApiContractTests(ApiFactory api)
{
    /// <summary>Set to 1 to rewrite the checked-in <c>openapi.json</c> from the served document.</summary>
    public const string UpdateVariable = "UPDATE_OPENAPI_SNAPSHOT";

    [Fact]
    public async Task Served_document_is_the_checked_in_openapi_json()
    {
        var served = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var snapshot = Path.Combine(RepositoryRoot.Path, "openapi.json");
        var pretty = Pretty(served.Root);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            await File.WriteAllTextAsync(snapshot, pretty);
        }

        var checkedIn = File.Exists(snapshot) ? await File.ReadAllTextAsync(snapshot) : "";
        Assert.True(
            checkedIn.ReplaceLineEndings("\n") == pretty,
            $"The served OpenAPI document differs from openapi.json. Review the change, then regenerate it: {UpdateVariable}=1 ./scripts/test.sh --filter {nameof(Served_document_is_the_checked_in_openapi_json)}");
    }

    [Fact]
    public async Task Every_answer_matches_the_schema_the_document_declares_for_its_operation_and_status()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var partner = await api.NewPartnerAsync();
        var client = partner.Client;
        async Task<JsonElement> Call(string method, string template, string path, JsonNode? body = null, Action<HttpRequestMessage>? headers = null)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = body is null ? null : Requests.Json(body) };
            headers?.Invoke(request);
            return await document.AssertDocumentedAsync(await client.SendAsync(request), method, template);
        }

        var reference = $"ref-{Guid.NewGuid():N}";
        var order = await Call("POST", "/v1/orders", "/v1/orders", TestOrders.NewOrder(reference: reference));
        var id = order.Id();
        await Call("POST", "/v1/orders", "/v1/orders", TestOrders.NewOrder(reference: reference));
        await Call("POST", "/v1/orders", "/v1/orders", JsonNode.Parse("""{"kind":"one_time"}"""));
        await Call("GET", "/v1/orders/{id}", $"/v1/orders/{id}");
        await Call("GET", "/v1/orders/{id}", "/v1/orders/999999999");
        await Call("GET", "/v1/orders", "/v1/orders?limit=2&status=pending");
        await Call("GET", "/v1/orders", "/v1/orders?limit=0");
        await Call("POST", "/v1/orders/{id}/cancel/preview", $"/v1/orders/{id}/cancel/preview", JsonNode.Parse("""{"reason":"customer_request"}"""));
        await Call("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{id}/cancel", JsonNode.Parse(order.WithLineIds("""{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")));
        await Call("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{id}/cancel", JsonNode.Parse("""{"reason":"customer_request"}"""), r => r.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\"")));
        await Call("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{id}/cancel", JsonNode.Parse($$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(10)}}"}"""), r => r.Headers.Add("Prefer", "return=minimal"));
        await Call("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{id}/cancel", JsonNode.Parse($$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(10)}}"}"""));
        await Call("DELETE", "/v1/orders/{id}/scheduled-cancellation", $"/v1/orders/{id}/scheduled-cancellation");
        await Call("DELETE", "/v1/orders/{id}/scheduled-cancellation", $"/v1/orders/{id}/scheduled-cancellation");
        await Call("POST", "/v1/orders/{id}/cancel", $"/v1/orders/{id}/cancel", JsonNode.Parse("""{"reason":"customer_request"}"""));
        await Call("POST", "/v1/orders/{id}/cancel/preview", $"/v1/orders/{id}/cancel/preview", JsonNode.Parse("""{"reason":"customer_request"}"""));
        await Call("POST", "/v1/orders/{id}/reactivate", $"/v1/orders/{id}/reactivate", JsonNode.Parse($$"""{"effective_date":"{{Cancellations.Day(5)}}"}"""));
        await Call("DELETE", "/v1/orders/{id}/scheduled-reactivation", $"/v1/orders/{id}/scheduled-reactivation");
        await Call("POST", "/v1/orders/{id}/reactivate", $"/v1/orders/{id}/reactivate", new JsonObject());
        await Call("POST", "/v1/orders/{id}/reactivate", $"/v1/orders/{id}/reactivate", new JsonObject());
        await Call("POST", "/v1/orders/{id}/payments", $"/v1/orders/{id}/payments", JsonNode.Parse("""{"method":"card","amount":0.01}"""));
        var due = (await client.GetOrderAsync(id)).GetProperty("amount_due").GetDecimal();
        await Call("POST", "/v1/orders/{id}/payments", $"/v1/orders/{id}/payments", new JsonObject { ["method"] = "card", ["amount"] = due });
        await Call("POST", "/v1/orders/{id}/payments", $"/v1/orders/{id}/payments", new JsonObject { ["method"] = "card", ["amount"] = due });
        await Call("POST", "/v1/test/orders/{id}/cancel", $"/v1/test/orders/{id}/cancel", new JsonObject());
        await Call("GET", "/v1/orders/{id}/events", $"/v1/orders/{id}/events");
        await Call("POST", "/v1/test/scheduled-changes/run", "/v1/test/scheduled-changes/run", new JsonObject { ["as_of"] = DateTimeOffset.UtcNow.AddDays(30) });

        var webhook = await Call("POST", "/v1/webhooks", "/v1/webhooks", JsonNode.Parse("""{"url":"https://partner.example/hooks","events":["*"]}"""));
        var webhookId = webhook.GetProperty("id").GetGuid();
        await Call("GET", "/v1/webhooks", "/v1/webhooks");
        await Call("GET", "/v1/webhooks/{id}/deliveries", $"/v1/webhooks/{webhookId}/deliveries");
        await Call("POST", "/v1/webhooks/{id}/rotate-secret", $"/v1/webhooks/{webhookId}/rotate-secret");
        await Call("POST", "/v1/webhooks/{id}/deliveries/{deliveryId}/retry", $"/v1/webhooks/{webhookId}/deliveries/{Guid.NewGuid()}/retry");
        await Call("DELETE", "/v1/webhooks/{id}", $"/v1/webhooks/{webhookId}");
        await Call("DELETE", "/v1/webhooks/{id}", $"/v1/webhooks/{webhookId}");

        using (var malformed = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = new StringContent("{", System.Text.Encoding.UTF8, "application/json") })
        {
            await document.AssertDocumentedAsync(await client.SendAsync(malformed), "POST", "/v1/orders");
        }

        await document.AssertDocumentedAsync(await client.PostAsync("/v1/orders", new StringContent("x")), "POST", "/v1/orders");
        await document.AssertDocumentedAsync(await api.ClientWithKey("oc_nobody").GetAsync("/v1/orders"), "GET", "/v1/orders");
        await document.AssertDocumentedAsync(await api.AdminClient().GetAsync("/v1/orders"), "GET", "/v1/orders");
        var admin = api.AdminClient();
        var created = await document.AssertDocumentedAsync(await admin.PostAsync("/v1/admin/partners", Requests.Json("""{"name":"Contract"}""")), "POST", "/v1/admin/partners");
        var key = await document.AssertDocumentedAsync(await admin.PostAsync($"/v1/admin/partners/{created.GetProperty("id").GetGuid()}/keys", null), "POST", "/v1/admin/partners/{id}/keys");
        await document.AssertDocumentedAsync(await admin.DeleteAsync($"/v1/admin/keys/{key.GetProperty("id").GetGuid()}"), "DELETE", "/v1/admin/keys/{keyId}");
        await document.AssertDocumentedAsync(await admin.DeleteAsync($"/v1/admin/keys/{Guid.NewGuid()}"), "DELETE", "/v1/admin/keys/{keyId}");
    }

    [Fact]
    public async Task A_minimal_creation_answers_the_documented_MinimalChangeResponse_and_a_minimal_change_omits_only_the_order()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var partner = await api.NewPartnerAsync();
        using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = Requests.Json(TestOrders.NewOrder()) };
        create.Headers.Add("Prefer", "return=minimal");

        var response = await partner.Client.SendAsync(create);
        var minimal = await response.ShouldBeAsync(HttpStatusCode.Created);
        document.AssertMatches(JsonNode.Parse("""{"$ref":"#/components/schemas/MinimalChangeResponse"}""")!, minimal, "minimal creation");
        Assert.Equal("return=minimal", response.Headers.GetValues("Preference-Applied").Single());
        Assert.Contains("MinimalChangeResponse", document.Operation("/v1/orders", "POST")["responses"]!["201"]!["description"]!.GetValue<string>());

        using var cancel = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{minimal.GetProperty("order_id").GetInt64()}/cancel")
        {
            Content = Requests.Json("""{"reason":"customer_request"}"""),
        };
        cancel.Headers.Add("Prefer", "return=minimal");
        var change = await document.AssertDocumentedAsync(await partner.Client.SendAsync(cancel), "POST", "/v1/orders/{id}/cancel");
        Assert.Equal(["event_id", "order_id", "status"], change.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("cancelled", change.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Money_is_decimal_and_every_route_documents_the_refusals_any_route_can_give_with_the_problem_schema()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));

        var numbers = document.Root.ToJsonString();
        Assert.DoesNotContain("\"format\":\"double\"", numbers);
        Assert.DoesNotContain("\"format\":\"float\"", numbers);
        foreach (var (name, property) in Properties(document.Schemas))
        {
            if (property["type"]?.ToJsonString() is { } type && type.Contains("number", StringComparison.Ordinal))
            {
                Assert.True(property["format"]?.GetValue<string>() == "decimal", $"{name} is a number but not format decimal");
            }
        }

        foreach (var (path, method, operation) in document.Operations())
        {
            Assert.False(string.IsNullOrEmpty(operation["operationId"]?.GetValue<string>()), $"{method} {path} has no operationId");
            Assert.False(string.IsNullOrEmpty(operation["description"]?.GetValue<string>()), $"{method} {path} has no description");
            var responses = operation["responses"]!.AsObject();
            foreach (var status in new[] { "401", "429", "500", "503" })
            {
                Assert.True(responses.ContainsKey(status), $"{method} {path} does not document {status}");
            }

            foreach (var (status, response) in responses.Where(r => r.Key[0] is '4' or '5'))
            {
                Assert.Equal("#/components/schemas/Problem", response!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>());
                Assert.Contains("`code`:", response["description"]!.GetValue<string>());
            }

            Assert.True(responses["429"]!["headers"]!.AsObject().ContainsKey("Retry-After"), $"{method} {path} 429 has no Retry-After");
        }

        var problem = document.Schemas["Problem"]!;
        Assert.Equal(["code", "detail", "status", "title", "trace_id", "type"], problem["required"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
        Assert.Equal(
            Problems.Codes.Keys.Order(),
            document.Schemas["ProblemCode"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task Every_keyed_route_documents_idempotency_and_every_order_change_documents_if_match_prefer_and_etag()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));

        foreach (var (path, method, operation) in document.Operations())
        {
            // Swagger UI fills a parameter's example into every "Try it out": one Idempotency-Key for every call.
            var prefilled = (operation["parameters"]?.AsArray() ?? []).Where(p => p!["in"]!.GetValue<string>() == "header" && p["example"] is not null);
            Assert.True(!prefilled.Any(), $"{method} {path}: a request header has an example Swagger UI would send");
        }

        foreach (var (path, method, operation) in document.Operations().Where(o => o.Method is "post" or "delete"))
        {
            Assert.Contains("Idempotency-Key", HeaderParameters(operation));
            foreach (var (_, response) in operation["responses"]!.AsObject().Where(r => r.Key[0] == '2'))
            {
                Assert.True(response!["headers"]?.AsObject().ContainsKey("Idempotent-Replayed") == true, $"{method} {path}: no Idempotent-Replayed");
            }
        }

        foreach (var path in new[] { "/v1/orders/{id}/cancel", "/v1/orders/{id}/payments", "/v1/orders/{id}/reactivate", "/v1/orders/{id}/scheduled-cancellation", "/v1/orders/{id}/scheduled-reactivation", "/v1/test/orders/{id}/cancel" })
        {
            var operation = document.Paths[path]!.AsObject().Single().Value!.AsObject();
            Assert.Superset(new HashSet<string> { "If-Match", "Prefer", "Idempotency-Key" }, HeaderParameters(operation).ToHashSet());
            Assert.Contains("412", operation["responses"]!.AsObject().Select(r => r.Key));
            var ok = operation["responses"]!["200"]!["headers"]!.AsObject();
            Assert.True(ok.ContainsKey("ETag") && ok.ContainsKey("Preference-Applied"), $"{path} 200 lacks ETag or Preference-Applied");
        }

        foreach (var (path, method, operation) in document.Operations())
        {
            foreach (var (status, response) in operation["responses"]!.AsObject().Where(r => r.Key is "201" or "202"))
            {
                Assert.True(response!["headers"]?.AsObject().ContainsKey("Location") == true, $"{method} {path} {status}: no Location");
            }
        }

        // A job's creation and its status say when to poll it again.
        foreach (var (path, method, status) in new[] { ("/v1/cancellation-jobs", "POST", "202"), ("/v1/cancellation-jobs/{id}", "GET", "200") })
        {
            var headers = document.Operation(path, method)["responses"]![status]!["headers"]!.AsObject();
            Assert.True(headers.ContainsKey("Retry-After"), $"{method} {path} {status}: no Retry-After");
        }

        var list = document.Operation("/v1/orders", "GET")["parameters"]!.AsArray();
        Assert.Equal("integer", list.Single(p => p!["name"]!.GetValue<string>() == "limit")!["schema"]!["type"]!.GetValue<string>());
        Assert.Equal("#/components/schemas/OrderStatus", list.Single(p => p!["name"]!.GetValue<string>() == "status")!["schema"]!["$ref"]!.GetValue<string>());
    }

    [Fact]
    public async Task Webhook_payloads_are_documented_for_every_event_type_with_the_standard_webhooks_headers()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));

        var webhooks = document.Root["webhooks"]!.AsObject();
        Assert.Equal(Webhooks.EventTypes.All.Order(), webhooks.Select(w => w.Key).Order());
        foreach (var (type, item) in webhooks)
        {
            var post = item!["post"]!;
            var message = type.Split('.')[0] switch
            {
                "cancellation_job" => "JobWebhookMessage",
                "partner" => "SettingsWebhookMessage",
                _ => "WebhookMessage",
            };
            Assert.Equal($"#/components/schemas/{message}", post["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
            Assert.Equal(["webhook-id", "webhook-signature", "webhook-timestamp"], HeaderParameters(post.AsObject()).Order());
            Assert.Contains(type, post["summary"]!.GetValue<string>());
        }
    }

    public static string Pretty(JsonNode node) =>
        node.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    private static IEnumerable<string> HeaderParameters(JsonObject operation) =>
        (operation["parameters"]?.AsArray() ?? []).Where(p => p!["in"]!.GetValue<string>() == "header").Select(p => p!["name"]!.GetValue<string>());

    private static IEnumerable<(string Name, JsonObject Property)> Properties(JsonObject schemas) =>
        from schema in schemas
        from part in new[] { schema.Value!.AsObject() }.Concat((schema.Value!["allOf"]?.AsArray() ?? []).Select(p => p!.AsObject()))
        from property in part["properties"]?.AsObject() ?? []
        select ($"{schema.Key}.{property.Key}", property.Value!.AsObject());
}
