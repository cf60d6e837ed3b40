using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Npgsql;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Property-based fuzzing of every route: CsCheck generates cases that take a valid request and mutate its body
/// (wrong types, huge and NaN-like numbers, deep nesting, long and odd Unicode, NUL, invalid UTF-8, duplicate keys,
/// impossible dates), its headers, its path and its query string. The property: no answer is a 5xx, and a refused
/// request leaves the partner's orders, events and webhooks (and the partners and keys) exactly as they were.
/// The test command runs a few hundred cases from a fixed seed; <c>FUZZ_CASES=20000</c> runs a long one, and
/// <c>FUZZ_SEED</c> picks another seed (docs/development.md, "Long runs").
/// </summary>
public sealed class FuzzTests(FuzzTests.FuzzApi api) : IClassFixture<FuzzTests.FuzzApi>
{
    /// <summary>A CsCheck seed (<c>new PCG(1, 20261202).ToString()</c>), so the suite replays the same cases every run.</summary>
    public const string DefaultSeed = "0000001diBl1";

    private const int Mutations = 14;

    private const string Marker = "__fuzz_value__";

    private static readonly string[] HostileValues =
    [
        "null", "true", "\"string\"", "\"\"", "0", "-1", "1.5", "1e400", "-1e400", "79228162514264337593543950336", "0.1e-400",
        "1E+2", "2147483648", "-2147483649", "9223372036854775808", "\"NaN\"", "\"Infinity\"", "[]", "{}", "[1,2]",
        "{\"a\":{\"b\":{\"c\":[1]}}}", $"\"{new string('x', 20_000)}\"", "\"\\u0000\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"x\\udc00y\"",
        "\"💥🙂\"", "\"\\u202Eevil\"", "\"e\\u0301\"", "\"2025-02-30\"", "\"0000-01-01\"", "\"0001-01-01\"", "\"9999-12-31\"",
        "\"2030-01-01T00:00:00+14:00\"", "\"0001-01-01T00:00:00+14:00\"", "\"9999-12-31T23:59:59-14:00\"", "\"2030-13-01\"", "\"1\"",
        "\"other\"", "\"expired\"", "\"order.cancelled\"", "\"*\"", "\"http://10.0.0.1/x\"", "\"https://[::1]/\"",
        "\"https://169.254.169.254/\"", "\"Pacific/Kiritimati\"", "\"Etc/GMT+12\"", "\"JPY\"", "\"XXX\"",
        new string('[', 200) + new string(']', 200), "[" + string.Join(",", Enumerable.Repeat("{\"line_id\":1,\"quantity\":1}", 600)) + "]",
    ];

    private static readonly string[] HostileBodies =
    [
        "", "null", "[]", "1", "\"s\"", "{", "}", "{\"a\":1,\"a\":2}", new string('[', 5000), "{\"reason\":\"customer_request\"}garbage",
        "\uFEFF{}", "{\"reason\":\"customer_request\",}", "{'reason':'other'}", "{\"reason\":\"customer_request\"}{\"x\":1}",
    ];

    private static readonly string?[] ContentTypes =
    [
        null, "text/plain", "application/json; charset=latin1", "application/merge-patch+json", "application/xml", "multipart/form-data; boundary=x", "*/*", "application/json;;;",
    ];

    private static readonly string[] HeaderValues =
    [
        "", "x", "\"1\"", "W/\"1\"", "*", "\"999999\"", "garbage\"", new string('k', 300), "return=minimal", "return=representation, return=minimal", "é", "a,b,,c",
    ];

    private static readonly string[] HostileIds =
    ["0", "-1", "9223372036854775807", "99999999999999999999", "abc", "1.5", "%C3%28", "00000000-0000-0000-0000-000000000000", "1%2F2", "..", ""];

    private static readonly string[] HostileQueryValues =
    ["%00", "a%00b", "%C3%28", "-1", "0", "101", "99999999999", "abc", "", "paid", "one_time", "%F0%9F%92%A5", new string('q', 5000), "eyJ4IjoxfQ", "AAAA"];

    private static readonly string[] QueryNames = ["status", "kind", "customer_ref", "reference", "limit", "cursor", "unknown", "limit[]"];

    [Fact]
    public async Task No_mutated_request_answers_5xx_and_a_refused_one_changes_nothing()
    {
        var cases = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_CASES"), out var configured) ? configured : 400;
        var seed = Environment.GetEnvironmentVariable("FUZZ_SEED") ?? DefaultSeed;
        var world = await World.CreateAsync(api);
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();

        await Case.Gen.Array[cases].SampleAsync(
            async generated =>
            {
                var state = await world.StateAsync();
                foreach (var fuzzCase in generated)
                {
                    using var request = fuzzCase.ToRequest(world);
                    var description = $"{request.Method} {request.RequestUri} ({fuzzCase})";
                    using var response = await world.ClientFor(fuzzCase).SendAsync(request);
                    var status = (int)response.StatusCode;
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                    var after = await world.StateAsync();
                    if (status >= 500)
                    {
                        failures.Add($"{status} for {description}: {await response.Content.ReadAsStringAsync()}");
                    }
                    else if (status >= 400 && after != state)
                    {
                        failures.Add($"{status} for {description} changed the data: {state} → {after}");
                    }

                    state = after;
                    if (failures.Count >= 10)
                    {
                        break;
                    }
                }
            },
            seed: seed,
            iter: 1,
            threads: 1);

        Assert.True(failures.Count == 0, $"Seed {seed}:\n{string.Join("\n", failures)}");
        Assert.True(statuses.Keys.Any(s => s < 300) && statuses.Keys.Any(s => s >= 400), $"The cases did not reach both outcomes: {string.Join(", ", statuses)}");
    }

    /// <summary>One generated case: a route, and the mutations applied to its valid request, in order.</summary>
    private sealed record Case(int Route, int[] Ops)
    {
        public static readonly Gen<Case> Gen =
            CsCheck.Gen.Select(CsCheck.Gen.Int[0, Routes.Count - 1], CsCheck.Gen.Int[0, 1 << 20].Array[0, 4], (route, ops) => new Case(route, ops));

        public override string ToString() => $"route {Route}, ops [{string.Join(",", Ops)}]";

        public HttpRequestMessage ToRequest(World world)
        {
            var template = Routes[Route](world);
            var path = template.Path;
            var body = template.Body?.ToJsonString();
            byte[]? raw = null;
            var contentType = body is null ? null : "application/json";
            var headers = new List<(string Name, string Value)>();
            foreach (var op in Ops)
            {
                var choice = op / Mutations;
                switch (op % Mutations)
                {
                    case 0 when template.Body is not null:
                        body = SetAt(body!, choice, HostileValues[choice % HostileValues.Length]);
                        break;
                    case 1 when template.Body is not null:
                        body = RemoveAt(body!, choice);
                        break;
                    case 2:
                        body = AddProperty(body ?? "{}", HostileValues[choice % HostileValues.Length]);
                        contentType ??= "application/json";
                        break;
                    case 3:
                        body = HostileBodies[choice % HostileBodies.Length];
                        contentType ??= "application/json";
                        break;
                    case 4 when body is { Length: > 2 } && body.StartsWith('{'):
                        var comma = body.IndexOf(',', StringComparison.Ordinal);
                        body = comma > 0 ? "{" + body[1..comma] + "," + body[1..] : body;
                        break;
                    case 5 when body is not null:
                        raw = WithInvalidUtf8(body, choice);
                        break;
                    case 6 when body is not null && body.IndexOf('"', StringComparison.Ordinal) is var quote and >= 0:
                        body = body.Insert(quote + 1, "\\ud800");
                        break;
                    case 7 when body is { Length: > 0 }:
                        body = body[..(choice % body.Length)];
                        break;
                    case 8:
                        contentType = ContentTypes[choice % ContentTypes.Length];
                        body ??= "{}";
                        break;
                    case 9:
                        headers.Add(("Idempotency-Key", HeaderValues[choice % HeaderValues.Length]));
                        break;
                    case 10:
                        headers.Add(("If-Match", HeaderValues[choice % HeaderValues.Length]));
                        break;
                    case 11:
                        headers.Add(("Prefer", HeaderValues[choice % HeaderValues.Length]));
                        break;
                    case 12:
                        path = ReplaceId(path, HostileIds[choice % HostileIds.Length]);
                        break;
                    case 13:
                        var separator = path.Contains('?', StringComparison.Ordinal) ? "&" : "?";
                        path += $"{separator}{QueryNames[choice % QueryNames.Length]}={HostileQueryValues[(choice / QueryNames.Length) % HostileQueryValues.Length]}";
                        break;
                    default:
                        break;
                }
            }

            var request = new HttpRequestMessage(template.Method, path);
            if (raw is not null || body is not null)
            {
                request.Content = new ByteArrayContent(raw ?? Encoding.UTF8.GetBytes(body!));
                if (contentType is not null)
                {
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                }
            }

            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            return request;
        }
    }

    private sealed record Template(HttpMethod Method, string Path, JsonObject? Body = null, bool Admin = false);

    private static readonly List<Func<World, Template>> Routes =
    [
        _ => new(HttpMethod.Post, "/v1/orders", NewOrder(reference: $"fuzz-{Guid.NewGuid():N}", lines: [Line("SKU-F", 3, 9.99m, 1m, 0.2m)])),
        w => new(HttpMethod.Get, $"/v1/orders/{w.OrderId()}"),
        _ => new(HttpMethod.Get, "/v1/orders?status=pending&kind=one_time&customer_ref=cus_1&limit=5"),
        w => new(HttpMethod.Post, $"/v1/orders/{w.OrderId()}/payments", new JsonObject { ["method"] = "card", ["amount"] = 33.40m, ["reference"] = "pi_1" }),
        w => new(HttpMethod.Post, $"/v1/orders/{w.OrderId()}/cancel", CancelBody(w)),
        w => new(HttpMethod.Post, $"/v1/orders/{w.OrderId()}/cancel/preview", CancelBody(w)),
        w => new(HttpMethod.Delete, $"/v1/orders/{w.OrderId()}/scheduled-cancellation"),
        w => new(HttpMethod.Post, $"/v1/orders/{w.OrderId()}/reactivate", new JsonObject { ["effective_date"] = Cancellations.Day(2), ["note"] = "back" }),
        w => new(HttpMethod.Delete, $"/v1/orders/{w.OrderId()}/scheduled-reactivation"),
        w => new(HttpMethod.Get, $"/v1/orders/{w.OrderId()}/events"),
        w => new(HttpMethod.Post, $"/v1/test/orders/{w.OrderId()}/cancel", new JsonObject { ["reason"] = "other" }),
        _ => new(HttpMethod.Post, "/v1/test/scheduled-changes/run", new JsonObject { ["as_of"] = "2020-01-01T00:00:00Z" }),
        _ => new(HttpMethod.Post, "/v1/webhooks", new JsonObject { ["url"] = "https://partner.example/hooks", ["events"] = new JsonArray("order.cancelled") }),
        _ => new(HttpMethod.Get, "/v1/webhooks"),
        w => new(HttpMethod.Delete, $"/v1/webhooks/{w.WebhookId}"),
        w => new(HttpMethod.Get, $"/v1/webhooks/{w.WebhookId}/deliveries"),
        w => new(HttpMethod.Post, $"/v1/webhooks/{w.WebhookId}/deliveries/{Guid.NewGuid()}/retry"),
        _ => new(HttpMethod.Post, "/v1/admin/partners", new JsonObject { ["name"] = $"fuzz-{Guid.NewGuid():N}" }, Admin: true),
        w => new(HttpMethod.Post, $"/v1/admin/partners/{w.OtherPartnerId}/keys", null, Admin: true),
        w => new(HttpMethod.Delete, $"/v1/admin/keys/{w.OtherKeyId}", null, Admin: true),
        _ => new(HttpMethod.Patch, "/v1/orders"),
        _ => new(HttpMethod.Get, "/"),
    ];

    private static JsonObject CancelBody(World world) => new()
    {
        ["reason"] = "customer_request",
        ["note"] = "fuzz",
        ["items"] = new JsonArray(new JsonObject { ["line_id"] = world.LineId(), ["quantity"] = 1, ["reason"] = "out_of_stock" }),
        ["waive_shipping"] = false,
    };

    private static string SetAt(string body, int choice, string value) => Rewrite(body, node =>
    {
        var slots = Slots(node).ToList();
        if (slots.Count == 0)
        {
            return node.ToJsonString();
        }

        // Hostile values include text System.Text.Json will not build (1e400, lone surrogates): a marker goes in, then the text.
        var (parent, name, index) = slots[choice % slots.Count];
        if (name is not null)
        {
            parent.AsObject()[name] = Marker;
        }
        else
        {
            parent.AsArray()[index] = Marker;
        }

        return node.ToJsonString().Replace($"\"{Marker}\"", value, StringComparison.Ordinal);
    });

    private static string RemoveAt(string body, int choice) => Rewrite(body, node =>
    {
        var slots = Slots(node).Where(s => s.Name is not null).ToList();
        if (slots.Count > 0)
        {
            var (parent, name, _) = slots[choice % slots.Count];
            parent.AsObject().Remove(name!);
        }

        return node.ToJsonString();
    });

    /// <summary>Rewrites the body as JSON, or leaves it as it is when an earlier mutation made it unreadable as JSON.</summary>
    private static string Rewrite(string body, Func<JsonNode, string> rewrite)
    {
        try
        {
            return Parsed(body) is { } node ? rewrite(node) : body;
        }
        catch (InvalidOperationException)
        {
            return body; // Text an earlier mutation made that System.Text.Json will not turn back into a string.
        }
    }

    private static JsonNode? Parsed(string body)
    {
        try
        {
            return JsonNode.Parse(body, documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException)
        {
            return null; // Not JSON any more, or a property name an earlier mutation made unreadable.
        }
    }

    private static string AddProperty(string body, string value)
    {
        var trimmed = body.TrimEnd();
        return trimmed.StartsWith('{') && trimmed.EndsWith('}')
            ? trimmed.Length == 2 ? "{\"unexpected\":" + value + "}" : trimmed[..^1] + ",\"unexpected\":" + value + "}"
            : body;
    }

    /// <summary>Every object property and array item, so a mutation can reach nested places (<c>lines[0].quantity</c>).</summary>
    private static IEnumerable<(JsonNode Parent, string? Name, int Index)> Slots(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToList())
                {
                    yield return (obj, name, -1);
                    if (child is not null)
                    {
                        foreach (var slot in Slots(child))
                        {
                            yield return slot;
                        }
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    yield return (array, null, i);
                    if (array[i] is { } child)
                    {
                        foreach (var slot in Slots(child))
                        {
                            yield return slot;
                        }
                    }
                }

                break;
            default:
                break;
        }
    }

    private static byte[] WithInvalidUtf8(string body, int choice)
    {
        var bytes = Encoding.UTF8.GetBytes(body).ToList();
        var quotes = bytes.Select((b, i) => (b, i)).Where(p => p.b == (byte)'"').Select(p => p.i).ToList();
        var at = quotes.Count > 0 ? quotes[choice % quotes.Count] + 1 : 0;
        bytes.InsertRange(at, choice % 2 == 0 ? [0xC3, 0x28] : [0xFF, 0xFE, 0xED, 0xA0, 0x80]);
        return [.. bytes];
    }

    private static string ReplaceId(string path, string id)
    {
        var query = path.IndexOf('?', StringComparison.Ordinal);
        var (route, rest) = query < 0 ? (path, "") : (path[..query], path[query..]);
        var segments = route.Split('/');
        for (var i = segments.Length - 1; i >= 0; i--)
        {
            if (long.TryParse(segments[i], CultureInfo.InvariantCulture, out _) || Guid.TryParse(segments[i], out _))
            {
                segments[i] = id;
                break;
            }
        }

        return string.Join('/', segments) + rest;
    }

    /// <summary>The fuzzed partner's data, several orders in different states, and what a state comparison reads.</summary>
    private sealed class World
    {
        private readonly List<(long Id, long LineId)> _orders = [];
        private readonly Random _pick = new(20261202);

        private World(FuzzApi api, TestPartner partner)
        {
            Api = api;
            Partner = partner;
        }

        public FuzzApi Api { get; }

        public TestPartner Partner { get; }

        public Guid WebhookId { get; private set; }

        public Guid OtherPartnerId { get; private set; }

        public Guid OtherKeyId { get; private set; }

        public static async Task<World> CreateAsync(FuzzApi api)
        {
            var world = new World(api, await api.NewPartnerAsync());
            var client = world.Partner.Client;
            for (var i = 0; i < 8; i++)
            {
                var order = await client.CreateOrderAsync(NewOrder(kind: i % 3 == 0 ? "recurring" : "one_time", lines: [Line("SKU-A", 5, 4.00m), Line("SKU-B", 2, 9.50m)]));
                var lines = order.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("id").GetInt64()).ToList();
                world._orders.Add((order.Id(), lines[0]));
                if (i % 4 == 1)
                {
                    await (await client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
                }
                else if (i % 4 == 2)
                {
                    await (await client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
                }
            }

            var webhook = await (await client.PostAsync("/v1/webhooks", Requests.Json("""{"url":"https://partner.example/hooks","events":["*"]}"""))).ShouldBeAsync(HttpStatusCode.Created);
            world.WebhookId = webhook.GetProperty("id").GetGuid();
            var other = await api.NewPartnerAsync();
            world.OtherPartnerId = other.Id;
            world.OtherKeyId = other.KeyId;
            return world;
        }

        public long OrderId() => _orders[_pick.Next(_orders.Count)].Id;

        public long LineId() => _orders[_pick.Next(_orders.Count)].LineId;

        public HttpClient ClientFor(Case fuzzCase) => Routes[fuzzCase.Route](this).Admin ? Api.AdminClient() : Partner.Client;

        /// <summary>Everything a refused request must leave as it was, in one line.</summary>
        public async Task<string> StateAsync()
        {
            await using var connection = new NpgsqlConnection(Api.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                """
                SELECT concat_ws(' ',
                    (SELECT count(*) || ' orders v' || coalesce(sum(version), 0) FROM orders WHERE partner_id = $1),
                    (SELECT coalesce(sum(l.cancelled_quantity), 0) || ' cancelled' FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.partner_id = $1),
                    (SELECT count(*) || ' events' FROM order_events WHERE partner_id = $1),
                    (SELECT count(*) || ' webhooks' FROM webhook_endpoints WHERE partner_id = $1),
                    (SELECT count(*) || ' deliveries pending' FROM webhook_deliveries WHERE partner_id = $1 AND status = 'pending'),
                    (SELECT count(*) || ' partners' FROM partners),
                    (SELECT count(*) || ' keys, ' || count(revoked_at) || ' revoked' FROM api_keys))
                """,
                connection)
            {
                Parameters = { new NpgsqlParameter<Guid> { TypedValue = Partner.Id } },
            };
            return (string)(await command.ExecuteScalarAsync())!;
        }
    }

    /// <summary>Its own database and no rate limit: a few hundred requests in a row must not meet a 429.</summary>
    public sealed class FuzzApi : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["RateLimiting:PermitsPerSecond"] = "1000000",
        };
    }
}
