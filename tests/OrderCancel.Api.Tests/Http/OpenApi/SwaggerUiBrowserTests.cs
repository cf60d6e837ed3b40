using Microsoft.Playwright;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// Swagger UI as a newcomer uses it, in a real browser: Debian's Chromium (never one a test tool downloads), driven by
/// Playwright, against the service run as a process in Development with its demo key. scripts/test.sh installs
/// Chromium when it is missing; <c>CHROMIUM_PATH</c> points elsewhere.
/// </summary>
public sealed class SwaggerUiBrowserTests(DatabaseOnly database) : IClassFixture<DatabaseOnly>
{
    private const string DemoKey = "oc_demo_key_for_the_browser_test";

    private static readonly string Chromium = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";

    /// <summary>
    /// As long as the page's own actions may take: an expectation's default is 5 s, and on a loaded CI machine an
    /// answer once took longer to show than that (the page was right, the test gave up).
    /// </summary>
    private const float Patience = 30_000;

    [Fact]
    public async Task Authorize_with_the_demo_key_then_the_create_example_answers_201_and_the_payment_example_pays_that_order()
    {
        Assert.True(File.Exists(Chromium), $"No Chromium at {Chromium}: ./scripts/test.sh installs Debian's chromium package, or set CHROMIUM_PATH.");
        using var service = await ServiceProcess.StartAsync(database.ConnectionString, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Demo__ApiKey"] = DemoKey,
        });
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // Root in CI has no sandbox; this machine's network is closed, so nothing in the background may dial out.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(Patience);

        await page.GotoAsync($"{service.BaseUrl}/swagger/index.html");
        await page.Locator("button.authorize").First.ClickAsync();
        await page.Locator(".modal-ux input").First.FillAsync(DemoKey);
        await page.Locator(".modal-ux .auth-btn-wrapper button.authorize").ClickAsync();
        await page.Locator(".modal-ux .auth-btn-wrapper button.btn-done").ClickAsync();
        var create = page.Locator("#operations-Orders-CreateOrder");
        await create.Locator(".opblock-summary").ClickAsync();
        await create.Locator("button.try-out__btn").ClickAsync();
        await create.Locator("button.execute").ClickAsync();

        var status = create.Locator(".live-responses-table .response .response-col_status").First;
        await Assertions.Expect(status).ToHaveTextAsync("201", new() { Timeout = Patience });
        var body = await create.Locator(".live-responses-table .response-col_description pre").First.InnerTextAsync();
        Assert.Contains("\"status\": \"pending\"", body);
        Assert.Contains("\"total\": 61.66", body);

        // The payment example pays the order the create example made: only its id is typed in.
        var id = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt64();
        var pay = page.Locator("#operations-Orders-PayOrder");
        await pay.Locator(".opblock-summary").ClickAsync();
        await pay.Locator("button.try-out__btn").ClickAsync();
        var idInput = pay.Locator("tr[data-param-name='id'] input");
        var typed = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await idInput.FillAsync(typed);
        // Execute sends what the form holds: make sure the id is there (not reset by a late render of "Try it out").
        await Assertions.Expect(idInput).ToHaveValueAsync(typed, new() { Timeout = Patience });
        await pay.Locator("button.execute").ClickAsync();
        await Assertions.Expect(pay.Locator(".live-responses-table .response .response-col_status").First).ToHaveTextAsync("200", new() { Timeout = Patience });
        Assert.Contains("\"status\": \"paid\"", await pay.Locator(".live-responses-table .response-col_description pre").First.InnerTextAsync());
    }
}
