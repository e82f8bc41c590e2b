using LlmWorkflow.Tests.Dashboard;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Contract;

/// <summary>
/// The Scalar API reference at <c>/scalar/</c> (Scalar.AspNetCore) in headless Chromium: it renders the live OpenAPI document from the
/// service's own files, and asks nothing of any other host (every request leaving 127.0.0.1 is refused and recorded).
/// </summary>
[SystemTest]
public sealed class ApiReferenceBrowserTests(ContractFixture fixture) : IClassFixture<ContractFixture>
{
    [Fact]
    public async Task ScalarRendersTheDocumentOfflineFromTheServicesOwnFiles()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = DashboardFixture.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
        });
        var page = await browser.NewPageAsync();
        var outside = new List<string>();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        await page.RouteAsync("**/*", async route =>
        {
            var url = new Uri(route.Request.Url);
            if (url.IsLoopback || url.Scheme is "data" or "blob")
            {
                await route.ContinueAsync();
            }
            else
            {
                outside.Add(route.Request.Url);
                await route.AbortAsync();
            }
        });

        var response = await page.GotoAsync(new Uri(fixture.Api.BaseAddress, "scalar/").ToString());
        Assert.Equal(200, response!.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "LlmWorkflow API", Level = 1 })).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await page.GetByRole(AriaRole.Button, new() { Name = "Open Group - Jobs" }).ClickAsync();
        await Expect(page.GetByText("Submit a workflow run").First).ToBeVisibleAsync();

        Assert.True(outside.Count == 0, "requests to other hosts: " + string.Join(", ", outside));
        Assert.True(errors.Count == 0, "console errors: " + string.Join(" | ", errors));
    }
}
