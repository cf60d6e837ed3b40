using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Text;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Cursors are sealed: one the service did not write (changed, re-spelled, or another list's) is a 422 naming
/// <c>cursor</c>, and one written by an instance opens on any other.
/// </summary>
[Collection(SharedApi.Name)]
public sealed class CursorTests(ApiFactory api)
{
    [Fact]
    public async Task A_cursor_with_one_character_changed_is_422_on_every_list()
    {
        var partner = await api.NewPartnerAsync();
        foreach (var route in await NextCursorsAsync(partner))
        {
            var (path, cursor) = route;
            (await partner.Client.GetAsync($"{path}?limit=1&cursor={cursor}")).EnsureSuccessStatusCode();
            var middle = cursor.Length / 2;
            var changed = cursor[..middle] + (cursor[middle] == 'A' ? 'B' : 'A') + cursor[(middle + 1)..];

            var response = await partner.Client.GetAsync($"{path}?limit=1&cursor={changed}");

            await response.ShouldBeValidationProblemAsync("cursor");
        }
    }

    [Theory]
    [InlineData("{0}=")]
    [InlineData("{0}%3D%3D")]
    [InlineData("{0}%00")]
    [InlineData("%20{0}")]
    public async Task A_cursor_spelled_another_way_is_422(string spelling)
    {
        var partner = await api.NewPartnerAsync();
        var (path, cursor) = (await NextCursorsAsync(partner))[0];

        var response = await partner.Client.GetAsync($"{path}?limit=1&cursor={string.Format(CultureInfo.InvariantCulture, spelling, cursor)}");

        await response.ShouldBeValidationProblemAsync("cursor");
    }

    [Fact]
    public async Task A_cursor_in_standard_base64_is_422()
    {
        var partner = await api.NewPartnerAsync();
        var (path, cursor) = (await NextCursorsAsync(partner))[0];

        // Each answer seals the cursor afresh (a new IV); take one whose standard spelling differs (a '+', '/' or '='),
        // as about 99 in 100 do.
        var standard = Convert.ToBase64String(Base64Url.DecodeFromChars(cursor));
        for (var attempt = 0; attempt < 20 && standard == cursor; attempt++)
        {
            var page = await (await partner.Client.GetAsync($"{path}?limit=1")).ShouldBeAsync(HttpStatusCode.OK);
            cursor = page.GetProperty("next_cursor").GetString()!;
            standard = Convert.ToBase64String(Base64Url.DecodeFromChars(cursor));
        }

        Assert.NotEqual(cursor, standard);

        var response = await partner.Client.GetAsync($"{path}?limit=1&cursor={Uri.EscapeDataString(standard)}");

        await response.ShouldBeValidationProblemAsync("cursor");
    }

    [Fact]
    public async Task One_lists_cursor_is_not_anothers()
    {
        var partner = await api.NewPartnerAsync();
        var cursors = await NextCursorsAsync(partner);

        foreach (var (path, _) in cursors)
        {
            foreach (var (otherPath, otherCursor) in cursors.Where(c => c.Path != path))
            {
                await (await partner.Client.GetAsync($"{path}?cursor={otherCursor}")).ShouldBeValidationProblemAsync("cursor");
            }
        }
    }

    [Fact]
    public async Task Another_partners_cursor_is_422_on_every_list_and_tells_nothing_of_its_events()
    {
        var owner = await api.NewPartnerAsync();
        var other = await api.NewPartnerAsync();
        var cursors = await NextCursorsAsync(owner);
        await NextCursorsAsync(other);

        foreach (var (path, cursor) in cursors)
        {
            // On the results route too, though the job is not the other partner's: validation answers before existence (SPEC §6).
            var response = await other.Client.GetAsync($"{path}?cursor={cursor}");
            await response.ShouldBeValidationProblemAsync("cursor");
        }
    }

    [Fact]
    public async Task One_jobs_results_cursor_is_422_on_another_jobs_results()
    {
        var partner = await api.NewPartnerAsync();
        var (_, cursor) = (await NextCursorsAsync(partner))[3];
        var first = await partner.Client.CreateOrderAsync();
        var second = await partner.Client.CreateOrderAsync();
        var job = await partner.Client.CreateJobAsync($$"""{"order_ids":[{{first.Id()}},{{second.Id()}}],"reason":"customer_request","dry_run":true}""");
        await partner.Client.WaitForJobAsync(job);

        var response = await partner.Client.GetAsync($"/v1/cancellation-jobs/{job}/results?cursor={cursor}");

        await response.ShouldBeValidationProblemAsync("cursor");
    }

    [Fact]
    public async Task A_feed_cursor_made_by_hand_to_reach_past_the_retention_is_422()
    {
        var partner = await api.NewPartnerAsync();
        await partner.Client.CreateOrderAsync();

        // What a feed cursor held in the clear: a version, a transaction, a sequence and an instant its holder could change.
        var forged = Base64Url.EncodeToString(Encoding.ASCII.GetBytes("e1.0.0.0"));
        var response = await partner.Client.GetAsync($"/v1/events?cursor={forged}");

        await response.ShouldBeValidationProblemAsync("cursor");
    }

    [Fact]
    public async Task A_cursor_written_by_one_instance_opens_on_another()
    {
        var partner = await api.NewPartnerAsync();
        var cursors = await NextCursorsAsync(partner);
        await using var second = api.SecondInstance();
        await second.InitializeAsync();
        using var secondClient = second.ClientWithKey(partner.Key);

        foreach (var (path, cursor) in cursors)
        {
            var page = await (await secondClient.GetAsync($"{path}?limit=1&cursor={cursor}")).ShouldBeAsync(HttpStatusCode.OK);
            Assert.Equal(1, page.GetProperty("data").GetArrayLength());
        }
    }

    /// <summary>A first page's <c>next_cursor</c> of every list that pages by cursor, over two orders, two events and two jobs of the partner's.</summary>
    private static async Task<List<(string Path, string Cursor)>> NextCursorsAsync(TestPartner partner)
    {
        var first = await partner.Client.CreateOrderAsync();
        var second = await partner.Client.CreateOrderAsync();
        var body = $$"""{"order_ids":[{{first.Id()}},{{second.Id()}}],"reason":"customer_request","dry_run":true}""";
        var job = await partner.Client.CreateJobAsync(body);
        await partner.Client.CreateJobAsync(body);
        await partner.Client.WaitForJobAsync(job);
        List<(string Path, string Cursor)> cursors = [];
        foreach (var path in new[] { "/v1/orders", "/v1/events", "/v1/cancellation-jobs", $"/v1/cancellation-jobs/{job}/results" })
        {
            var cursor = "";
            await Eventually.TrueAsync(
                async () =>
                {
                    var page = await (await partner.Client.GetAsync($"{path}?limit=1")).ShouldBeAsync(HttpStatusCode.OK);
                    cursor = page.GetProperty("next_cursor").GetString() ?? "";
                    return cursor.Length > 0;
                },
                () => $"{path} gave no next_cursor.");
            cursors.Add((path, cursor));
        }

        return cursors;
    }
}
