using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrderCancel.Api.Http;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Tests.Infrastructure;
using static OrderCancel.Api.Tests.Infrastructure.TestOrders;

namespace OrderCancel.Api.Tests;

/// <summary>SPEC §8 <c>Idempotency-Key</c>: replay, reuse, in-flight, isolation between partners, purge.</summary>
[Collection(SharedApi.Name)]
public sealed class IdempotencyTests(ApiFactory api)
{
    [Fact]
    public async Task A_retry_gets_the_first_answer_again_and_creates_nothing_more()
    {
        var partner = await api.NewPartnerAsync();
        var key = Guid.NewGuid().ToString();

        var first = await partner.Client.SendAsync(Post("/v1/orders", NewOrder().ToJsonString(), key));
        var retry = await partner.Client.SendAsync(Post("/v1/orders", NewOrder().ToJsonString(), key));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        Assert.Equal(first.Headers.ETag, retry.Headers.ETag);
        Assert.Equal(first.Content.Headers.ContentType, retry.Content.Headers.ContentType);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await api.OrderCountAsync(partner.Id));
        Assert.Equal(1, await api.EventCountAsync(partner.Id));
    }

    [Fact]
    public async Task A_refused_request_is_replayed_with_the_same_status_and_body()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.PayAsync(await partner.Client.CreateOrderAsync());
        var key = Guid.NewGuid().ToString();

        var first = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", """{"reason":"customer_request"}""", key));
        var retry = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", """{"reason":"customer_request"}""", key));

        await first.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "order_already_paid");
        Assert.Equal(HttpStatusCode.BadRequest, retry.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal("application/problem+json", retry.Content.Headers.ContentType?.MediaType);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
    }

    [Theory]
    [InlineData("""{"reason":"customer_request","efective_date":"2030-01-01"}""", "application/json", HttpStatusCode.UnprocessableEntity, "validation_failed")]
    [InlineData("""{"reason":"customer_request",""", "application/json", HttpStatusCode.BadRequest, "malformed_json")]
    [InlineData("""{"reason":"customer_request"}""", "text/plain", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    public async Task A_body_refused_before_the_handler_is_kept_so_its_key_cannot_then_run_a_corrected_body(
        string refusedBody, string mediaType, HttpStatusCode status, string code)
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var before = await api.StateAsync(order.Id());
        var key = Guid.NewGuid().ToString();
        HttpRequestMessage Refused()
        {
            var request = Post($"/v1/orders/{order.Id()}/cancel", refusedBody, key);
            request.Content!.Headers.ContentType = new(mediaType);
            return request;
        }

        var first = await partner.Client.SendAsync(Refused());
        var retry = await partner.Client.SendAsync(Refused());
        var corrected = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", """{"reason":"out_of_stock"}""", key));

        await first.ShouldBeProblemAsync(status, code);
        Assert.Equal(status, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        await corrected.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task A_409_refusal_rolls_back_what_the_handler_wrote_and_is_kept()
    {
        var partner = await api.NewPartnerAsync();
        await partner.Client.CreateOrderAsync(NewOrder(reference: "dup-1"));
        var key = Guid.NewGuid().ToString();

        var first = await partner.Client.SendAsync(Post("/v1/orders", NewOrder(reference: "dup-1").ToJsonString(), key));
        var retry = await partner.Client.SendAsync(Post("/v1/orders", NewOrder(reference: "dup-1").ToJsonString(), key));

        await first.ShouldBeProblemAsync(HttpStatusCode.Conflict, "duplicate_reference");
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(1, await api.OrderCountAsync(partner.Id));
        Assert.Equal(1, await api.EventCountAsync(partner.Id));
    }

    [Fact]
    public async Task The_same_key_on_a_different_request_is_422_idempotency_key_reused()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var key = Guid.NewGuid().ToString();
        await (await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", order.WithLineIds("""{"reason":"customer_request","items":[{"line_id":1,"quantity":1}]}"""), key)))
            .ShouldBeAsync(HttpStatusCode.OK);
        var before = await api.StateAsync(order.Id());

        var otherBody = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", """{"reason":"customer_request"}""", key));
        var otherPath = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/reactivate", "{}", key));

        await otherBody.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");
        await otherPath.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");
        Assert.Equal(before, await api.StateAsync(order.Id()));
    }

    [Fact]
    public async Task A_retry_while_the_first_is_still_running_is_409_idempotency_key_in_use()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        var key = Guid.NewGuid().ToString();
        const string Body = """{"reason":"customer_request"}""";

        // Hold the order's row lock, so the first request waits inside its transaction until we let go.
        await using var blocker = new NpgsqlConnection(api.ConnectionString);
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM orders WHERE id = {order.Id()} FOR UPDATE", blocker, transaction))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        var first = partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", Body, key));
        await Eventually.TrueAsync(() => IsWaitingForLockAsync(blocker), () => "The first request never waited for the row lock.");

        var retry = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", Body, key));
        await transaction.RollbackAsync();
        var firstResponse = await first;
        var afterwards = await partner.Client.SendAsync(Post($"/v1/orders/{order.Id()}/cancel", Body, key));

        await retry.ShouldBeProblemAsync(HttpStatusCode.Conflict, "idempotency_key_in_use");
        await firstResponse.ShouldBeAsync(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
        Assert.Equal("true", afterwards.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(["order.created", "order.cancelled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task Keys_are_scoped_per_partner()
    {
        var first = await api.NewPartnerAsync();
        var second = await api.NewPartnerAsync();
        const string Key = "shared-key-1";

        var a = await first.Client.SendAsync(Post("/v1/orders", NewOrder(reference: "a").ToJsonString(), Key));
        var b = await second.Client.SendAsync(Post("/v1/orders", NewOrder(reference: "b").ToJsonString(), Key));

        await a.ShouldBeAsync(HttpStatusCode.Created);
        var created = await b.ShouldBeAsync(HttpStatusCode.Created);
        Assert.False(b.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("b", created.GetProperty("reference").GetString());
        Assert.Equal(1, await api.OrderCountAsync(first.Id));
        Assert.Equal(1, await api.OrderCountAsync(second.Id));
    }

    [Fact]
    public async Task A_key_over_255_characters_is_422_and_changes_nothing()
    {
        var partner = await api.NewPartnerAsync();

        var response = await partner.Client.SendAsync(Post("/v1/orders", NewOrder().ToJsonString(), new string('k', 256)));

        await response.ShouldBeValidationProblemAsync("Idempotency-Key");
        Assert.Equal(0, await api.OrderCountAsync(partner.Id));
    }

    [Fact]
    public async Task Deletes_are_idempotent_too()
    {
        var partner = await api.NewPartnerAsync();
        var order = await partner.Client.CreateOrderAsync();
        await (await partner.Client.CancelAsync(order.Id(), $$"""{"reason":"customer_request","effective_date":"{{Cancellations.Day(3)}}"}""")).ShouldBeAsync(HttpStatusCode.Accepted);
        var key = Guid.NewGuid().ToString();

        using var first = new HttpRequestMessage(HttpMethod.Delete, $"/v1/orders/{order.Id()}/scheduled-cancellation");
        first.Headers.Add(Idempotency.Header, key);
        using var retry = new HttpRequestMessage(HttpMethod.Delete, $"/v1/orders/{order.Id()}/scheduled-cancellation");
        retry.Headers.Add(Idempotency.Header, key);

        await (await partner.Client.SendAsync(first)).ShouldBeAsync(HttpStatusCode.OK);
        var replay = await partner.Client.SendAsync(retry);

        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(["order.created", "order.cancellation_scheduled", "order.cancellation_unscheduled"], await partner.Client.EventTypesAsync(order.Id()));
    }

    [Fact]
    public async Task Expired_keys_are_purged_and_can_be_used_again()
    {
        var partner = await api.NewPartnerAsync();
        var key = Guid.NewGuid().ToString();
        await (await partner.Client.SendAsync(Post("/v1/orders", NewOrder().ToJsonString(), key))).ShouldBeAsync(HttpStatusCode.Created);
        await api.WithDbAsync(db => db.IdempotencyRecords.Where(r => r.Key == key)
            .ExecuteUpdateAsync(set => set.SetProperty(r => r.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(-1))));

        var purged = (await api.Services.GetRequiredService<RetentionPurge>().PurgeOnceAsync(CancellationToken.None)).IdempotencyKeys;
        var again = await partner.Client.SendAsync(Post("/v1/orders", NewOrder().ToJsonString(), key));

        Assert.True(purged >= 1);
        await again.ShouldBeAsync(HttpStatusCode.Created);
        Assert.False(again.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(2, await api.OrderCountAsync(partner.Id));
    }

    private static HttpRequestMessage Post(string path, string body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Requests.Json(body) };
        request.Headers.TryAddWithoutValidation(Idempotency.Header, key);
        return request;
    }

    private static async Task<bool> IsWaitingForLockAsync(NpgsqlConnection observer)
    {
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", observer);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
