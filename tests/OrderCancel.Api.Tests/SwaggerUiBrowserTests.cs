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

    [Fact]
    public async Task Authorize_with_the_demo_key_then_try_out_the_create_example_answers_201_in_the_page()
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
        page.SetDefaultTimeout(30_000);

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
        await Assertions.Expect(status).ToHaveTextAsync("201");
        var body = await create.Locator(".live-responses-table .response-col_description pre").First.InnerTextAsync();
        Assert.Contains("\"status\": \"pending\"", body);
        Assert.Contains("\"total\": 61.66", body);
    }
}
