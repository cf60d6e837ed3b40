using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §12: GET /v1/events, a cursor that never misses an event nor repeats one, filters, isolation.</summary>
[Collection(SharedApi.Name)]
public sealed class EventFeedTests(ApiFactory api)
{
    [Fact]
    public async Task The_feed_lists_the_partners_events_oldest_first_in_the_shape_of_an_orders_events()
    {
        var partner = await api.NewPartnerAsync();
        var first = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(first.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        var second = await partner.Client.CreateOrderAsync();
        await (await PartnerSettingsTests.PatchAsync(partner.Client, """{"cancellation_window":"P1D"}""")).ShouldBeAsync(HttpStatusCode.OK);

        var page = await FeedOnceVisibleAsync(partner.Client, "", 4);

        var events = page.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["order.created", "order.cancelled", "order.created", "partner.settings_changed"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal([first.Id(), first.Id(), second.Id()], events.Take(3).Select(e => e.GetProperty("order_id").GetInt64()));
        Assert.Equal(JsonValueKind.Null, events[3].GetProperty("order_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next_cursor").ValueKind);
        var ofOrder = await (await partner.Client.GetAsync($"/v1/orders/{first.Id()}/events")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(ofOrder.GetProperty("data")[1].GetRawText(), events[1].GetRawText());
    }

    [Fact]
    public async Task Pages_follow_next_cursor_and_the_resume_cursor_picks_up_what_comes_later()
    {
        var partner = await api.NewPartnerAsync();
        for (var i = 0; i < 5; i++)
        {
            await partner.Client.CreateOrderAsync();
        }

        await FeedOnceVisibleAsync(partner.Client, "", 5);
        var one = await FeedAsync(partner.Client, "?limit=2");
        var two = await FeedAsync(partner.Client, $"?limit=2&cursor={one.GetProperty("next_cursor").GetString()}");
        var three = await FeedAsync(partner.Client, $"?limit=2&cursor={two.GetProperty("next_cursor").GetString()}");
        var caughtUp = await FeedAsync(partner.Client, $"?limit=2&cursor={three.GetProperty("resume_cursor").GetString()}");
        var later = await partner.Client.CreateOrderAsync();
        var resumed = await FeedOnceVisibleAsync(partner.Client, $"?limit=2&cursor={caughtUp.GetProperty("resume_cursor").GetString()}", 1);

        Assert.Equal(2, one.GetProperty("data").GetArrayLength());
        Assert.Equal(2, two.GetProperty("data").GetArrayLength());
        Assert.Equal(1, three.GetProperty("data").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, three.GetProperty("next_cursor").ValueKind);
        Assert.Equal(0, caughtUp.GetProperty("data").GetArrayLength());
        Assert.Equal(three.GetProperty("resume_cursor").GetString(), caughtUp.GetProperty("resume_cursor").GetString());
        Assert.Equal(later.Id(), Assert.Single(resumed.GetProperty("data").EnumerateArray()).GetProperty("order_id").GetInt64());
        var ids = new[] { one, two, three }.SelectMany(p => p.GetProperty("data").EnumerateArray()).Select(e => e.GetProperty("id").GetGuid()).ToList();
        Assert.Equal(5, ids.Distinct().Count());
    }

    [Fact]
    public async Task Filters_narrow_the_feed_by_type_order_and_time()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var other = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}""")).ShouldBeAsync(HttpStatusCode.OK);
        await (await partner.Client.CancelAsync(other, """{"reason":"out_of_stock","items":[{"line_id":1,"quantity":1}]}""")).ShouldBeAsync(HttpStatusCode.OK);
        var all = (await FeedOnceVisibleAsync(partner.Client, "", 4)).GetProperty("data").EnumerateArray().ToList();
        var third = all[2].GetProperty("occurred_at").GetString();

        var cancels = await FeedAsync(partner.Client, "?types=order.cancelled,order.partially_cancelled");
        var ofOrder = await FeedAsync(partner.Client, $"?order_id={order.Id()}");
        var window = await FeedAsync(partner.Client, $"?occurred_from={Uri.EscapeDataString(third!)}&occurred_to={Uri.EscapeDataString(all[3].GetProperty("occurred_at").GetString()!)}");

        Assert.Equal(["order.cancelled", "order.partially_cancelled"], cancels.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(["order.created", "order.cancelled"], ofOrder.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(all[2].GetProperty("id").GetGuid(), Assert.Single(window.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Theory]
    [InlineData("types=order.canceled", "types")]
    [InlineData("types=order.cancelled,", "types")]
    [InlineData("order_id=abc", "order_id")]
    [InlineData("order_id=-1", "order_id")]
    [InlineData("occurred_from=2026-01-01T00:00:00", "occurred_from")]
    [InlineData("occurred_from=2026-02-01T00:00:00Z&occurred_to=2026-01-01T00:00:00Z", "occurred_to")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=ZTkuMS4xLjE", "cursor")]
    public async Task A_bad_filter_limit_or_cursor_is_422_naming_it(string query, string property)
    {
        var partner = await api.NewPartnerAsync();

        await (await partner.Client.GetAsync($"/v1/events?{query}")).ShouldBeValidationProblemAsync(property);
    }

    [Fact]
    public async Task Another_partners_events_are_never_seen()
    {
        var partner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        await partner.Client.CreateOrderAsync();
        var theirs = await other.Client.CreateOrderAsync();
        await FeedOnceVisibleAsync(partner.Client, "", 1);
        var theirEvent = (await FeedOnceVisibleAsync(other.Client, "", 1)).GetProperty("data")[0].GetProperty("id").GetGuid();

        var mine = await FeedAsync(partner.Client, $"?order_id={theirs.Id()}");
        var all = await FeedAsync(partner.Client, "");

        Assert.Equal(0, mine.GetProperty("data").GetArrayLength());
        Assert.DoesNotContain(all.GetProperty("data").EnumerateArray(), e => e.GetProperty("id").GetGuid() == theirEvent);
        await (await partner.Client.GetAsync($"/v1/events/{theirEvent}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await partner.Client.GetAsync($"/v1/events/{Guid.NewGuid()}")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "not_found");
        var own = await (await other.Client.GetAsync($"/v1/events/{theirEvent}")).ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal("order.created", own.GetProperty("type").GetString());
        Assert.Equal(theirs.Id(), own.GetProperty("order_id").GetInt64());
    }

    /// <summary>
    /// Twenty writers commit while the poller follows the feed: ten through the API, ten holding their transaction open
    /// for a random while after writing, so events commit in another order than their sequence. The poller must end up
    /// with exactly the table's events, each once. Once the writers are done it follows the cursor until it has as many
    /// events as the table: an event skipped never comes back, so the test then fails on its deadline.
    /// </summary>
    [Fact]
    public async Task A_poller_following_the_cursor_while_20_writers_commit_sees_every_event_exactly_once()
    {
        var partner = await api.NewPartnerAsync();
        using var writing = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var apiWriters = Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
        {
            while (!writing.IsCancellationRequested)
            {
                var created = await WithinRateLimitAsync(() => partner.Client.PostAsync("/v1/orders", Requests.Json(TestOrders.NewOrder())));
                var order = await created.ShouldBeAsync(HttpStatusCode.Created);
                var cancelled = await WithinRateLimitAsync(() => partner.Client.CancelAsync(order.Id(), """{"reason":"customer_request"}"""));
                await cancelled.ShouldBeAsync(HttpStatusCode.OK);
            }
        }));
        var slowWriters = OutOfOrderEvents.WriteUntil(api.ConnectionString, partner.Id, 10, writing.Token);
        var writers = Task.WhenAll([.. apiWriters, .. slowWriters]);

        var poller = new FeedPoller(path => WithinRateLimitAsync(() => partner.Client.GetAsync(path)));
        var stored = await poller.FollowAsync(writers, () => api.WithDbAsync(db => db.Events.Where(e => e.PartnerId == partner.Id).Select(e => e.Id).ToListAsync()));
        var seen = poller.Seen;
        Assert.True(stored.Count > 200, $"The writers wrote only {stored.Count} events.");
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(stored.Order(), seen.Order());
    }

    private static async Task<JsonElement> FeedAsync(HttpClient client, string query) =>
        await (await client.GetAsync($"/v1/events{query}")).ShouldBeAsync(HttpStatusCode.OK);

    /// <summary>
    /// The page once it holds <paramref name="count"/> events. An event shows in the feed once every transaction that began
    /// before it has ended, and tests in other classes run transactions on the same server meanwhile.
    /// </summary>
    private static async Task<JsonElement> FeedOnceVisibleAsync(HttpClient client, string query, int count)
    {
        JsonElement page = default;
        await Eventually.TrueAsync(
            async () => (page = await FeedAsync(client, query)).GetProperty("data").GetArrayLength() >= count,
            () => $"The feed did not show {count} events: {page}");
        return page;
    }

    /// <summary>Twenty writers and a poller share one partner's rate limit: a 429 waits as its Retry-After says, then tries again.</summary>
    private static async Task<HttpResponseMessage> WithinRateLimitAsync(Func<Task<HttpResponseMessage>> send)
    {
        while (true)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.TooManyRequests)
            {
                return response;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(100)));
        }
    }
}

/// <summary>SPEC §12: the feed reaches back 30 days; a cursor older than that is 410 cursor_expired (by the fake clock).</summary>
public sealed class EventFeedRetentionTests(SchedulingWorkerTests.WorkerApi api) : IClassFixture<SchedulingWorkerTests.WorkerApi>
{
    [Fact]
    public async Task A_cursor_older_than_the_feeds_30_days_is_410_cursor_expired_and_a_younger_one_still_works()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        string? cursor = null;
        await Eventually.TrueAsync(
            async () =>
            {
                var page = await (await partner.Client.GetAsync("/v1/events")).ShouldBeAsync(HttpStatusCode.OK);
                cursor = page.GetProperty("resume_cursor").GetString();
                return page.GetProperty("data").GetArrayLength() == 1;
            },
            () => "The order's event did not show in the feed.");

        api.Clock.Advance(TimeSpan.FromDays(29));
        var young = await partner.Client.GetAsync($"/v1/events?cursor={cursor}");
        var stillThere = await (await partner.Client.GetAsync("/v1/events")).ShouldBeAsync(HttpStatusCode.OK);
        api.Clock.Advance(TimeSpan.FromDays(2));
        var old = await partner.Client.GetAsync($"/v1/events?cursor={cursor}");
        var fresh = await (await partner.Client.GetAsync("/v1/events")).ShouldBeAsync(HttpStatusCode.OK);

        await young.ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(1, stillThere.GetProperty("data").GetArrayLength());
        var problem = await old.ShouldBeProblemAsync(HttpStatusCode.Gone, "cursor_expired");
        Assert.Contains("Start again without a cursor", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, fresh.GetProperty("data").GetArrayLength());
        Assert.Equal(1, await Sql.ScalarAsync<long>(api.ConnectionString, "SELECT count(*) FROM order_events WHERE order_id = @id", ("id", order.Id())));
    }
}
