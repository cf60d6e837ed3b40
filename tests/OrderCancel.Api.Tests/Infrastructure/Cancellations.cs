using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OrderCancel.Api.Tests.Infrastructure;

public static class Cancellations
{
    public static Task<HttpResponseMessage> CancelAsync(this HttpClient client, long orderId, string body) =>
        client.PostAsync($"/v1/orders/{orderId}/cancel", Requests.Json(body));

    /// <summary>Cancels <paramref name="order"/>; in <paramref name="body"/>, <c>"line_id":N</c> names its Nth line (see <see cref="WithLineIds"/>).</summary>
    public static Task<HttpResponseMessage> CancelAsync(this HttpClient client, JsonElement order, string body) =>
        client.CancelAsync(order.Id(), order.WithLineIds(body));

    /// <summary>
    /// Line ids are unique across orders, so a test body says <c>"line_id":N</c> for "this order's Nth line" and this
    /// puts in the real id. A number past the order's lines is left as it is (an id that is not this order's).
    /// </summary>
    public static string WithLineIds(this JsonElement order, string body)
    {
        var lines = order.GetProperty("lines");
        return Regex.Replace(body, "\"line_id\":(\\d+)", match =>
        {
            var n = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            return n >= 1 && n <= lines.GetArrayLength() ? $"\"line_id\":{lines[n - 1].GetProperty("id").GetInt64()}" : match.Value;
        });
    }

    public static async Task<JsonElement> PayAsync(this HttpClient client, JsonElement order)
    {
        var amount = order.GetProperty("amount_due").GetDecimal().ToString(CultureInfo.InvariantCulture);
        var response = await client.PostAsync($"/v1/orders/{order.Id()}/payments", Requests.Json($$"""{"method":"card","amount":{{amount}}}"""));
        return (await response.ShouldBeAsync(HttpStatusCode.OK)).GetProperty("order");
    }

    public static async Task<string[]> EventTypesAsync(this HttpClient client, long orderId)
    {
        var events = await (await client.GetAsync($"/v1/orders/{orderId}/events")).ShouldBeAsync(HttpStatusCode.OK);
        return [.. events.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("type").GetString()!)];
    }

    /// <summary>Applies what is due at 00:00 UTC of <paramref name="day"/> (the test route the scheduler's worker shares).</summary>
    public static async Task RunScheduledChangesAsync(this HttpClient client, string day) =>
        await (await client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json($$"""{"as_of":"{{day}}T00:00:00Z"}""")))
            .ShouldBeAsync(HttpStatusCode.OK);

    /// <summary>Applies what is due by <paramref name="asOf"/>: scheduled changes and expiries.</summary>
    public static async Task RunAsOfAsync(this HttpClient client, DateTimeOffset asOf) =>
        await (await client.PostAsync("/v1/test/scheduled-changes/run", Requests.Json($$"""{"as_of":"{{asOf.ToUniversalTime():O}}"}""")))
            .ShouldBeAsync(HttpStatusCode.OK);

    public static string Day(int daysFromToday) =>
        DateOnly.FromDateTime(DateTime.UtcNow).AddDays(daysFromToday).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
}
