using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// Why a job waits, as an operator sees it in headless Chromium against the real API and Worker (issue 79): a provider
/// is paused from the Providers view, a job that needs it waits parked and the provider's card says so (its waiting
/// jobs by reason), the job's page names the provider and the reason, and the card's Resume runs the job.
/// </summary>
public sealed class DashboardProviderBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    protected override DashboardFixture Fixture => fixture;

    [Fact]
    public async Task TheProvidersViewShowsWhyAJobWaitsAndPausesAndResumesAProvider()
    {
        var page = await NewPageAsync(ColorScheme.Light, 1280, 900);
        await SignInAsync(page, "#/providers");
        var form = page.Locator("[data-role=pause-provider-form]");
        await form.Locator("input[name=pause-provider]").FillAsync("fakeai");
        await form.Locator("button[type=submit]").ClickAsync();
        var card = page.Locator("section[data-provider=fakeai]");
        await Expect(card.Locator("[data-role=provider-paused]")).ToHaveTextAsync("Paused");

        var jobId = await fixture.SubmitAsync("dashboard_provider", new { question = "paused" }, action: "waits on a paused provider", cancellationToken: Ct);
        var waiting = await WaitForWaitingAsync(jobId);
        Assert.Equal(("budget", "fakeai", "paused"),
            ((string?)waiting["waiting_for"]!["kind"], (string?)waiting["waiting_for"]!["provider"], (string?)waiting["waiting_for"]!["reason"]));
        Assert.True((DateTimeOffset)waiting["waiting_for"]!["until"]! > DateTimeOffset.UtcNow.AddSeconds(-1));

        // The card refreshes every 5 s: its waiting jobs by reason.
        await Expect(card.Locator("[data-role=waiting-jobs]")).ToHaveTextAsync("1 (paused)", new() { Timeout = 15_000 });
        var job = await NewPageAsync(ColorScheme.Light, 1280, 900);
        await SignInAsync(job, $"#/jobs/{jobId}");
        await Expect(job.GetByText("(budget: fakeai paused)", new() { Exact = false })).ToBeVisibleAsync();
        await job.CloseAsync();

        await card.Locator("[data-action=resume-provider]").ClickAsync();
        await Expect(card.Locator("[data-action=pause-provider]")).ToBeVisibleAsync();
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(jobId, Ct))["status"]);
        AssertNoConsoleErrors();
    }

    private async Task<JsonObject> WaitForWaitingAsync(string jobId)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var status = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{jobId}", Ct);
            if ((string?)status!["status"] == "waiting")
            {
                return status;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"The job never waited: {status.ToJsonString()}");
            await Task.Delay(TimeSpan.FromMilliseconds(200), Ct);
        }
    }
}
