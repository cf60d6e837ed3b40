using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderCancel.Api.CancellationJobs;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.Cancellations;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>Bulk cancellation jobs (SPEC §10): previewed, selected, applied through the single cancel's rules, and isolated.</summary>
[Collection(SharedApi.Name)]
public sealed class CancellationJobTests(ApiFactory api)
{
    private const string Recall = "SKU-RECALL";

    [Fact]
    public async Task A_dry_run_changes_nothing_and_predicts_the_real_runs_counts_and_results_exactly()
    {
        var partner = await api.NewPartnerAsync();
        var orders = await RecallMixAsync(partner.Client);
        var before = await StatesAsync(orders.All);
        var events = await api.EventCountAsync(partner.Id);
        var request = $$"""{"filter":{"sku":"{{Recall}}"},"scope":"matching_lines","reason":"out_of_stock","note":"Recall R-1"}""";

        var dryId = await partner.Client.CreateJobAsync(request.Replace("{\"filter\"", "{\"dry_run\":true,\"filter\""));
        var dry = await partner.Client.WaitForJobAsync(dryId);

        Assert.True(dry.GetProperty("dry_run").GetBoolean());
        Assert.Equal(before, await StatesAsync(orders.All));
        Assert.Equal(events + 1, await api.EventCountAsync(partner.Id)); // cancellation_job.completed, and nothing else

        var predicted = await partner.Client.JobResultsAsync(dryId);
        Assert.All(predicted, row => Assert.Null(row.EventId));

        var realId = await partner.Client.CreateJobAsync(request);
        var real = await partner.Client.WaitForJobAsync(realId);
        var results = await partner.Client.JobResultsAsync(realId);

        Assert.Equal(Jobs.Totals(dry), Jobs.Totals(real));
        Assert.Equal(
            predicted.Select(r => (r.OrderId, r.Outcome, r.Code, r.AmountReleased)),
            results.Select(r => (r.OrderId, r.Outcome, r.Code, r.AmountReleased)));
        var counts = real.GetProperty("counts");
        Assert.Equal(4, counts.GetProperty("matched").GetInt32());
        Assert.Equal(4, counts.GetProperty("processed").GetInt32());
        Assert.Equal(2, counts.GetProperty("cancelled").GetInt32());
        Assert.Equal(1, counts.GetProperty("partially_cancelled").GetInt32());
        Assert.Equal(1, counts.GetProperty("refused").GetInt32());
        Assert.Equal(1, counts.GetProperty("refused_by_code").GetProperty("order_already_paid").GetInt32());
        // Mixed order: 2 × 10 of the SKU; recall-only: 3 × 4 + 4.90 shipping; subscription: 9.
        Assert.Equal(20m + 16.90m + 9m, real.GetProperty("amount_released").GetProperty("EUR").GetDecimal());
        Assert.Equal(new[] { orders.Mixed, orders.RecallOnly, orders.Paid, orders.Subscription }.Order(), results.Select(r => r.OrderId));
    }

    [Fact]
    public async Task Matching_lines_cancels_only_that_skus_lines_and_a_paid_order_is_refused_and_untouched()
    {
        var partner = await api.NewPartnerAsync();
        var orders = await RecallMixAsync(partner.Client);
        var paidBefore = await api.StateAsync(orders.Paid);

        var id = await partner.Client.CreateJobAsync($$"""{"filter":{"sku":"{{Recall}}"},"scope":"matching_lines","reason":"out_of_stock"}""");
        await partner.Client.WaitForJobAsync(id);
        var results = (await partner.Client.JobResultsAsync(id)).ToDictionary(r => r.OrderId);

        var mixed = await partner.Client.GetOrderAsync(orders.Mixed);
        Assert.Equal("pending", mixed.GetProperty("status").GetString());
        Assert.Equal([2, 0], mixed.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("cancelled_quantity").GetInt32()));
        Assert.Equal("partially_cancelled", results[orders.Mixed].Outcome);
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(orders.RecallOnly)).GetProperty("status").GetString());
        Assert.Equal("cancelled", results[orders.RecallOnly].Outcome);

        Assert.Equal(("refused", "order_already_paid"), (results[orders.Paid].Outcome, results[orders.Paid].Code));
        Assert.Equal(paidBefore, await api.StateAsync(orders.Paid));
        Assert.Equal("paid", (await partner.Client.GetOrderAsync(orders.Paid)).GetProperty("status").GetString());
        Assert.False(results.ContainsKey(orders.Other), "An order without the SKU was selected.");
        Assert.False(results.ContainsKey(orders.AlreadyCancelled), "An order with nothing left of the SKU was selected.");

        // Each change is the job's own: its event, with the job's id, is the one its result names.
        foreach (var order in new[] { orders.Mixed, orders.RecallOnly, orders.Subscription })
        {
            var events = await (await partner.Client.GetAsync($"/v1/orders/{order}/events")).ShouldBeAsync(HttpStatusCode.OK);
            var last = events.GetProperty("data").EnumerateArray().Last();
            Assert.Equal($"job:{id}", last.GetProperty("actor").GetString());
            Assert.Equal(id, last.GetProperty("data").GetProperty("job_id").GetGuid());
            Assert.Equal(results[order].EventId, last.GetProperty("id").GetGuid());
        }
    }

    [Fact]
    public async Task A_job_by_order_ids_cancels_each_whole_and_reports_ids_that_are_not_the_partners_as_not_found()
    {
        var partner = await api.NewPartnerAsync();
        var stranger = await api.NewPartnerAsync();
        var mine = (await partner.Client.CreateOrderAsync()).Id();
        var recurring = (await partner.Client.CreateOrderAsync(NewOrder("recurring"))).Id();
        var theirs = (await stranger.Client.CreateOrderAsync()).Id();
        var theirsBefore = await api.StateAsync(theirs);

        var job = await partner.Client.RunJobAsync($$"""{"order_ids":[{{mine}},{{theirs}},{{recurring}},999999999],"reason":"fraud_suspected"}""");
        var results = (await partner.Client.JobResultsAsync(job.GetProperty("id").GetGuid())).ToDictionary(r => r.OrderId);

        Assert.Equal(4, job.GetProperty("counts").GetProperty("matched").GetInt32());
        Assert.Equal(2, job.GetProperty("counts").GetProperty("cancelled").GetInt32());
        Assert.Equal(2, job.GetProperty("counts").GetProperty("refused_by_code").GetProperty("order_not_found").GetInt32());
        Assert.Equal(("refused", "order_not_found"), (results[theirs].Outcome, results[theirs].Code));
        Assert.Equal(theirsBefore, await api.StateAsync(theirs));
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(mine)).GetProperty("status").GetString());
        Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(recurring)).GetProperty("status").GetString());
        Assert.Equal(4, job.GetProperty("request").GetProperty("order_ids_count").GetInt32());
    }

    [Fact]
    public async Task A_filter_never_selects_another_partners_orders_and_another_partners_job_is_not_found()
    {
        var partner = await api.NewPartnerAsync();
        var stranger = await api.NewPartnerAsync();
        var mine = (await partner.Client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 1, 3m)]))).Id();
        var theirs = (await stranger.Client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 1, 3m)]))).Id();
        var theirsBefore = await api.StateAsync(theirs);

        var job = await partner.Client.RunJobAsync($$"""{"filter":{"sku":"{{Recall}}"},"reason":"out_of_stock"}""");
        var id = job.GetProperty("id").GetGuid();

        Assert.Equal([mine], (await partner.Client.JobResultsAsync(id)).Select(r => r.OrderId));
        Assert.Equal(theirsBefore, await api.StateAsync(theirs));
        foreach (var call in new Func<Task<HttpResponseMessage>>[]
        {
            () => stranger.Client.GetAsync($"/v1/cancellation-jobs/{id}"),
            () => stranger.Client.GetAsync($"/v1/cancellation-jobs/{id}/results"),
            () => stranger.Client.PostAsync($"/v1/cancellation-jobs/{id}/stop", null),
            () => partner.Client.GetAsync($"/v1/cancellation-jobs/{Guid.NewGuid()}"),
        })
        {
            await (await call()).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        }

        var list = await (await stranger.Client.GetAsync("/v1/cancellation-jobs")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Empty(list.GetProperty("data").EnumerateArray());
        await (await api.AdminClient().PostAsync("/v1/cancellation-jobs", Requests.Json("""{"order_ids":[1],"reason":"other","note":"x"}""")))
            .ShouldBeProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task A_scheduled_bulk_cancel_leaves_each_order_its_scheduled_cancellation_for_the_scheduler()
    {
        var partner = await api.NewPartnerAsync();
        var reference = $"batch-{Guid.NewGuid():N}";
        List<long> ids = [];
        for (var i = 0; i < 3; i++)
        {
            var order = NewOrder();
            order["metadata"] = new System.Text.Json.Nodes.JsonObject { ["batch"] = reference, ["n"] = i };
            ids.Add((await partner.Client.CreateOrderAsync(order)).Id());
        }

        var job = await partner.Client.RunJobAsync($$$"""{"filter":{"status":"pending","metadata":{"batch":"{{{reference}}}"}},"reason":"customer_request","effective_date":"{{{Day(3)}}}"}""");

        Assert.Equal(3, job.GetProperty("counts").GetProperty("scheduled").GetInt32());
        foreach (var id in ids)
        {
            var order = await partner.Client.GetOrderAsync(id);
            Assert.Equal("pending", order.GetProperty("status").GetString());
            Assert.Equal(Day(3), order.GetProperty("scheduled_cancellation").GetProperty("effective_date").GetString());
        }

        await partner.Client.RunScheduledChangesAsync(Day(3));
        foreach (var id in ids)
        {
            Assert.Equal("cancelled", (await partner.Client.GetOrderAsync(id)).GetProperty("status").GetString());
            Assert.Equal(
                ["order.created", "order.cancellation_scheduled", "order.cancelled"],
                await partner.Client.EventTypesAsync(id));
        }
    }

    [Fact]
    public async Task A_metadata_filter_compares_values_by_json_kind_and_is_not_thrown_by_a_number_postgres_cannot_hold()
    {
        var partner = await api.NewPartnerAsync();
        async Task<long> Create(string metadata)
        {
            var order = NewOrder();
            order["metadata"] = System.Text.Json.Nodes.JsonNode.Parse(metadata);
            return (await partner.Client.CreateOrderAsync(order)).Id();
        }

        var numberAsDecimal = await Create("""{"lot": 7.0, "recalled": true, "huge": 1e999999}""");
        var number = await Create("""{"lot": 7, "recalled": true}""");
        var numberAsText = await Create("""{"lot": "7", "recalled": true}""");
        var notRecalled = await Create("""{"lot": 7, "recalled": false}""");
        await Create("""{"huge": 1e999999}""");

        var job = await partner.Client.RunJobAsync("""{"filter":{"metadata":{"lot":7,"recalled":true}},"reason":"out_of_stock","dry_run":true}""");
        var byText = await partner.Client.RunJobAsync("""{"filter":{"metadata":{"lot":"7"}},"reason":"out_of_stock","dry_run":true}""");

        Assert.Equal(new[] { numberAsDecimal, number }.Order(), (await partner.Client.JobResultsAsync(job.GetProperty("id").GetGuid())).Select(r => r.OrderId));
        Assert.Equal([numberAsText], (await partner.Client.JobResultsAsync(byText.GetProperty("id").GetGuid())).Select(r => r.OrderId));
        Assert.NotEqual(notRecalled, numberAsText);
    }

    [Fact]
    public async Task Each_filter_criterion_selects_only_the_orders_meeting_it_and_criteria_given_together_all_apply()
    {
        var partner = await api.NewPartnerAsync();
        async Task<long> Create(string kind = "one_time", string? reference = null, string customer = "cus_1", string sku = "SKU-1")
        {
            var order = NewOrder(kind: kind, reference: reference, lines: [Line(sku, 1, 5m)]);
            order["customer"]!["ref"] = customer;
            return (await partner.Client.CreateOrderAsync(order)).Id();
        }

        var plain = await Create();
        var subscription = await Create(kind: "recurring");
        var referenced = await Create(reference: "PO-77");
        var otherCustomer = await Create(customer: "cus_2");
        var recalled = await Create(sku: Recall);
        var cancelled = await Create();
        await (await partner.Client.CancelAsync(cancelled, """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var old = await Create();
        await api.WithDbAsync(db => db.Database.ExecuteSqlAsync($"UPDATE orders SET created_at = '2020-06-01T00:00:00Z' WHERE id = {old}"));
        long[] all = [plain, subscription, referenced, otherCustomer, recalled, cancelled, old];

        async Task<long[]> Selected(string filter)
        {
            var job = await partner.Client.RunJobAsync($$"""{"dry_run":true,"filter":{{filter}},"reason":"out_of_stock"}""");
            return [.. (await partner.Client.JobResultsAsync(job.GetProperty("id").GetGuid())).Select(r => r.OrderId)];
        }

        Assert.Equal([cancelled], await Selected("""{"status":"cancelled"}"""));
        Assert.Equal([subscription], await Selected("""{"kind":"recurring"}"""));
        Assert.Equal([referenced], await Selected("""{"reference":"PO-77"}"""));
        Assert.Equal([otherCustomer], await Selected("""{"customer_ref":"cus_2"}"""));
        Assert.Equal([recalled], await Selected($$"""{"sku":"{{Recall}}"}"""));
        Assert.Equal([old], await Selected("""{"created_to":"2021-01-01T00:00:00Z"}"""));
        Assert.Equal(all.Except([old]).Order(), await Selected("""{"created_from":"2021-01-01T01:00:00+01:00"}"""));
        Assert.Equal(
            new[] { plain, referenced, recalled, cancelled }.Order(),
            await Selected("""{"kind":"one_time","customer_ref":"cus_1","created_from":"2021-01-01T00:00:00Z"}"""));
        Assert.Empty(await Selected("""{"status":"cancelled","sku":"SKU-1"}""")); // nothing left of the SKU on it
    }

    [Fact]
    public async Task A_sku_filters_selection_reads_the_orders_carrying_the_sku_not_every_order_of_the_partner()
    {
        var partner = await api.NewPartnerAsync();
        var sku = $"RC-{Guid.NewGuid():N}"[..12]; // this test's own: other partners' orders with a shared SKU would count as read below
        List<long> recalled = [];
        for (var i = 0; i < 3; i++)
        {
            recalled.Add((await partner.Client.CreateOrderAsync(NewOrder(lines: [Line(sku, 1, 3m)]))).Id());
        }

        var template = (await partner.Client.CreateOrderAsync()).Id();
        await api.CopyOrderAsync(template, 3000);
        await Sql.ExecuteAsync(api.ConnectionString, "ANALYZE orders");
        await Sql.ExecuteAsync(api.ConnectionString, "ANALYZE order_lines");
        var job = await partner.Client.RunJobAsync($$"""{"dry_run":true,"filter":{"sku":"{{sku}}"},"reason":"out_of_stock"}""");
        var jobId = job.GetProperty("id").GetGuid();
        Assert.Equal(recalled, (await partner.Client.JobResultsAsync(jobId)).Select(r => r.OrderId));

        // The job's own statement, run again under EXPLAIN ANALYZE (and rolled back): how many order rows it read.
        var selection = CancellationJobRows.SelectByFilter(jobId, partner.Id, new JobFilter(null, null, sku, null, null, null, null, null));
        await using var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var explain = new NpgsqlCommand("EXPLAIN (ANALYZE, FORMAT JSON) " + selection.CommandText, connection, transaction);
        foreach (NpgsqlParameter parameter in selection.Parameters)
        {
            explain.Parameters.Add(parameter.Clone());
        }

        using var plan = JsonDocument.Parse((string)(await explain.ExecuteScalarAsync())!);
        await transaction.RollbackAsync();
        var read = OrderRowsRead(plan.RootElement[0].GetProperty("Plan"));
        Assert.True(read <= 2 * recalled.Count, $"The selection read {read} order rows to find {recalled.Count}: {plan.RootElement}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(101)]
    [InlineData(250)]
    public async Task A_jobs_orders_are_fixed_in_id_order_in_chunks_of_a_batch_each_full_but_the_last(int orders)
    {
        var partner = await api.NewPartnerAsync();
        var template = (await partner.Client.CreateOrderAsync()).Id();
        await api.CopyOrderAsync(template, orders - 1);
        var expected = await Sql.ScalarAsync<long[]>(api.ConnectionString,
            "SELECT array_agg(id ORDER BY id) FROM orders WHERE partner_id = @partner", ("partner", partner.Id));

        // The job's own statement for a filter every order of the partner meets, run in a transaction rolled back after.
        var job = Guid.CreateVersion7();
        var selection = CancellationJobRows.SelectByFilter(job, partner.Id, new JobFilter(Domain.OrderStatus.Pending, null, null, null, null, null, null, null));
        await using var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(selection.CommandText, connection, transaction))
        {
            foreach (NpgsqlParameter parameter in selection.Parameters)
            {
                insert.Parameters.Add(parameter.Clone());
            }

            Assert.Equal((orders + 99) / 100, await insert.ExecuteNonQueryAsync());
        }

        List<(long First, long[] Ids)> chunks = [];
        await using (var read = new NpgsqlCommand("SELECT first_order_id, order_ids FROM cancellation_job_chunks WHERE job_id = $1 ORDER BY first_order_id", connection, transaction)
        {
            Parameters = { new NpgsqlParameter { Value = job } },
        })
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                chunks.Add((reader.GetInt64(0), reader.GetFieldValue<long[]>(1)));
            }
        }

        await transaction.RollbackAsync();
        Assert.Equal(expected, chunks.SelectMany(c => c.Ids));
        Assert.All(chunks, c => Assert.Equal(c.Ids[0], c.First));
        Assert.All(chunks[..^1], c => Assert.Equal(100, c.Ids.Length));
        Assert.InRange(chunks[^1].Ids.Length, 1, 100);
    }

    [Fact]
    public async Task A_filter_that_matches_nothing_completes_with_nothing_matched()
    {
        var partner = await api.NewPartnerAsync();
        await partner.Client.CreateOrderAsync();

        var job = await partner.Client.RunJobAsync("""{"filter":{"customer_ref":"nobody-has-this"},"reason":"out_of_stock"}""");

        var counts = job.GetProperty("counts");
        Assert.Equal(0, counts.GetProperty("matched").GetInt32());
        Assert.Equal(0, counts.GetProperty("processed").GetInt32());
        Assert.Empty(await partner.Client.JobResultsAsync(job.GetProperty("id").GetGuid()));
    }

    /// <summary>Rows read from <c>orders</c> by every node of the plan: those kept and those its filters removed, each loop.</summary>
    private static double OrderRowsRead(JsonElement node)
    {
        var read = 0d;
        if (node.TryGetProperty("Relation Name", out var relation) && relation.GetString() == "orders")
        {
            double Rows(string name) => node.TryGetProperty(name, out var rows) ? rows.GetDouble() : 0;
            read = (Rows("Actual Rows") + Rows("Rows Removed by Filter") + Rows("Rows Removed by Index Recheck")) * Rows("Actual Loops");
        }

        return read + (node.TryGetProperty("Plans", out var children) ? children.EnumerateArray().Sum(OrderRowsRead) : 0);
    }

    [Fact]
    public async Task A_job_that_cannot_start_stays_queued_and_does_not_hold_up_the_jobs_after_it()
    {
        var partner = await api.NewPartnerAsync();
        var order = (await partner.Client.CreateOrderAsync()).Id();
        var broken = Guid.CreateVersion7();
        await Sql.ExecuteAsync(
            api.ConnectionString,
            """
            INSERT INTO cancellation_jobs (id, partner_id, status, dry_run, request, created_by, created_at)
            VALUES (@id, @partner, 'queued', false, '{"reason":"other"}', 'test', now() - interval '1 hour')
            """,
            ("id", broken),
            ("partner", partner.Id));
        try
        {
            var job = await partner.Client.RunJobAsync($$"""{"order_ids":[{{order}}],"reason":"customer_request"}""");

            Assert.Equal(1, job.GetProperty("counts").GetProperty("cancelled").GetInt32());
            var stuck = await (await partner.Client.GetAsync($"/v1/cancellation-jobs/{broken}")).ShouldBeAsync(HttpStatusCode.OK);
            Assert.Equal("queued", stuck.GetProperty("status").GetString());
        }
        finally
        {
            await Sql.ExecuteAsync(api.ConnectionString, "DELETE FROM cancellation_jobs WHERE id = @id", ("id", broken));
        }
    }

    [Fact]
    public async Task The_job_list_is_newest_first_and_keyset_paged()
    {
        var partner = await api.NewPartnerAsync();
        var order = (await partner.Client.CreateOrderAsync()).Id();
        List<Guid> created = [];
        for (var i = 0; i < 3; i++)
        {
            created.Add(await partner.Client.CreateJobAsync($$"""{"order_ids":[{{order}}],"reason":"customer_request","dry_run":true}"""));
        }

        List<Guid> listed = [];
        string? cursor = null;
        do
        {
            var page = await (await partner.Client.GetAsync("/v1/cancellation-jobs?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"))).ShouldBeAsync(HttpStatusCode.OK);
            listed.AddRange(page.GetProperty("data").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(created), listed);
        await (await partner.Client.GetAsync("/v1/cancellation-jobs?cursor=bm90LWEtY3Vyc29y")).ShouldBeValidationProblemAsync("cursor");
        await (await partner.Client.GetAsync($"/v1/cancellation-jobs/{created[0]}/results?outcome=maybe")).ShouldBeValidationProblemAsync("outcome");
    }

    [Fact]
    public async Task A_retried_create_with_the_same_idempotency_key_makes_one_job()
    {
        var partner = await api.NewPartnerAsync();
        var order = (await partner.Client.CreateOrderAsync()).Id();
        var key = Guid.NewGuid().ToString();
        async Task<HttpResponseMessage> Send()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/cancellation-jobs")
            {
                Content = Requests.Json($$"""{"order_ids":[{{order}}],"reason":"customer_request"}"""),
            };
            request.Headers.Add("Idempotency-Key", key);
            return await partner.Client.SendAsync(request);
        }

        var first = await (await Send()).ShouldBeAsync(HttpStatusCode.Accepted);
        var retry = await Send();
        var again = await retry.ShouldBeAsync(HttpStatusCode.Accepted);

        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first.GetProperty("id").GetGuid(), again.GetProperty("id").GetGuid());
        Assert.Equal(1, await api.WithDbAsync(db => db.CancellationJobs.CountAsync(j => j.PartnerId == partner.Id)));
        await partner.Client.WaitForJobAsync(first.GetProperty("id").GetGuid());
        Assert.Equal(["order.created", "order.cancelled"], await partner.Client.EventTypesAsync(order));
    }

    [Theory]
    [InlineData("""{"reason":"out_of_stock"}""", "order_ids")]
    [InlineData("""{"order_ids":[1],"filter":{"sku":"A"},"reason":"out_of_stock"}""", "filter")]
    [InlineData("""{"filter":{},"reason":"out_of_stock"}""", "filter")]
    [InlineData("""{"order_ids":[],"reason":"out_of_stock"}""", "order_ids")]
    [InlineData("""{"order_ids":[1,1],"reason":"out_of_stock"}""", "order_ids")]
    [InlineData("""{"order_ids":[0],"reason":"out_of_stock"}""", "order_ids")]
    [InlineData("""{"order_ids":[1],"reason":"other"}""", "note")]
    [InlineData("""{"order_ids":[1],"reason":"out_of_stock","scope":"matching_lines"}""", "scope")]
    [InlineData("""{"filter":{"status":"pending"},"reason":"out_of_stock","scope":"matching_lines"}""", "scope")]
    [InlineData("""{"filter":{"metadata":{"tags":["a"]}},"reason":"out_of_stock"}""", "filter.metadata")]
    [InlineData("""{"filter":{"metadata":{"a":1e999999}},"reason":"out_of_stock"}""", "filter.metadata")]
    [InlineData("""{"filter":{"created_from":"2026-02-01T00:00:00Z","created_to":"2026-01-01T00:00:00Z"},"reason":"out_of_stock"}""", "filter.created_to")]
    [InlineData("""{"filter":{"sku":"A\u0000"},"reason":"out_of_stock"}""", "filter.sku")]
    [InlineData("""{"filter":{"status":"lost"},"reason":"out_of_stock"}""", "filter.status")]
    [InlineData("""{"filter":{"sku":"A","colour":"red"},"reason":"out_of_stock"}""", "filter.colour")]
    [InlineData("""{"order_ids":[1],"reason":"out_of_stock","effective_date":"2020-01-01"}""", "effective_date")]
    [InlineData("""{"order_ids":[1],"reason":"out_of_stock","dryrun":true}""", "dryrun")]
    public async Task A_malformed_job_is_a_422_naming_the_property_and_creates_nothing(string body, string property)
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.PostAsync("/v1/cancellation-jobs", Requests.Json(body));

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Contains(property, problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Equal(0, await api.WithDbAsync(db => db.CancellationJobs.CountAsync(j => j.PartnerId == partner.Id)));
    }

    [Fact]
    public async Task More_than_ten_thousand_order_ids_is_a_422()
    {
        var partner = await api.NewPartnerAsync();
        var ids = string.Join(",", Enumerable.Range(1, 10_001));

        var response = await partner.Client.PostAsync("/v1/cancellation-jobs", Requests.Json($$"""{"order_ids":[{{ids}}],"reason":"out_of_stock"}"""));

        await response.ShouldBeValidationProblemAsync("order_ids");
    }

    [Fact]
    public async Task An_endpoint_subscribed_to_job_events_gets_the_completed_job_with_its_counts_and_each_orders_event()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var partner = await api.NewPartnerAsync();
        await (await partner.Client.PostAsync("/v1/webhooks", Requests.Json($$"""{"url":"{{receiver.Url}}","events":["cancellation_job.completed","order.cancelled"]}""")))
            .ShouldBeAsync(HttpStatusCode.Created);
        var orders = new[] { (await partner.Client.CreateOrderAsync()).Id(), (await partner.Client.CreateOrderAsync()).Id() };

        var job = await partner.Client.RunJobAsync($$"""{"order_ids":[{{orders[0]}},{{orders[1]}}],"reason":"duplicate_order"}""");

        var received = await receiver.WaitForAsync(r => r.Count >= 3);
        var bodies = received.Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        var completed = Assert.Single(bodies, b => b.GetProperty("type").GetString() == "cancellation_job.completed");
        var delivered = completed.GetProperty("data").GetProperty("job");
        Assert.Equal(job.GetProperty("id").GetGuid(), delivered.GetProperty("id").GetGuid());
        Assert.Equal("completed", delivered.GetProperty("status").GetString());
        Assert.Equal(2, delivered.GetProperty("counts").GetProperty("cancelled").GetInt32());
        Assert.Equal(
            orders.Order(),
            bodies.Where(b => b.GetProperty("type").GetString() == "order.cancelled").Select(b => b.GetProperty("data").GetProperty("order").Id()).Order());
    }

    [Fact]
    public async Task Every_job_answer_matches_the_documented_schema()
    {
        var document = await ServedDocument.FetchAsync(api.ClientWithKey(null));
        var partner = await api.NewPartnerAsync();
        var order = (await partner.Client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 2, 1.5m), Line("SKU-2", 1, 2m)]))).Id();
        var created = await document.AssertDocumentedAsync(
            await partner.Client.PostAsync("/v1/cancellation-jobs", Requests.Json($$"""{"filter":{"sku":"{{Recall}}"},"scope":"matching_lines","reason":"out_of_stock"}""")),
            "POST",
            "/v1/cancellation-jobs");
        var id = created.GetProperty("id").GetGuid();
        await partner.Client.WaitForJobAsync(id);

        await document.AssertDocumentedAsync(await partner.Client.GetAsync($"/v1/cancellation-jobs/{id}"), "GET", "/v1/cancellation-jobs/{id}");
        await document.AssertDocumentedAsync(await partner.Client.GetAsync("/v1/cancellation-jobs?limit=1"), "GET", "/v1/cancellation-jobs");
        var results = await document.AssertDocumentedAsync(await partner.Client.GetAsync($"/v1/cancellation-jobs/{id}/results"), "GET", "/v1/cancellation-jobs/{id}/results");
        Assert.Equal(order, results.GetProperty("data")[0].GetProperty("order_id").GetInt64());
        await document.AssertDocumentedAsync(await partner.Client.PostAsync($"/v1/cancellation-jobs/{id}/stop", null), "POST", "/v1/cancellation-jobs/{id}/stop");
        await document.AssertDocumentedAsync(await partner.Client.GetAsync($"/v1/cancellation-jobs/{Guid.NewGuid()}"), "GET", "/v1/cancellation-jobs/{id}");
        await document.AssertDocumentedAsync(await partner.Client.PostAsync("/v1/cancellation-jobs", Requests.Json("""{"reason":"out_of_stock"}""")), "POST", "/v1/cancellation-jobs");
        await document.AssertDocumentedAsync(await partner.Client.GetAsync($"/v1/cancellation-jobs/{id}/results?limit=500"), "GET", "/v1/cancellation-jobs/{id}/results");
    }

    /// <summary>
    /// A recall's mix, in creation order: a pending order with the SKU and another line; a pending order of only the
    /// SKU (with shipping); a paid one with the SKU; a subscription with it; a cancelled one; one without it.
    /// </summary>
    private static async Task<RecallOrders> RecallMixAsync(HttpClient client)
    {
        var mixed = await client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 2, 10m), Line("SKU-KEEP", 1, 7m)]));
        var recallOnly = await client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 3, 4m)]));
        var paid = await client.PayAsync(await client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 1, 8m)])));
        var subscription = await client.CreateOrderAsync(NewOrder("recurring", shippingCost: 0m, lines: [Line(Recall, 1, 9m)]));
        var cancelled = await client.CreateOrderAsync(NewOrder(lines: [Line(Recall, 1, 1m)]));
        await (await client.CancelAsync(cancelled.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var other = await client.CreateOrderAsync(NewOrder(lines: [Line("SKU-KEEP", 1, 1m)]));
        return new RecallOrders(mixed.Id(), recallOnly.Id(), paid.Id(), subscription.Id(), cancelled.Id(), other.Id());
    }

    private async Task<List<DbState>> StatesAsync(IEnumerable<long> orders)
    {
        List<DbState> states = [];
        foreach (var order in orders)
        {
            states.Add(await api.StateAsync(order));
        }

        return states;
    }

    private sealed record RecallOrders(long Mixed, long RecallOnly, long Paid, long Subscription, long AlreadyCancelled, long Other)
    {
        public long[] All => [Mixed, RecallOnly, Paid, Subscription, AlreadyCancelled, Other];
    }
}
