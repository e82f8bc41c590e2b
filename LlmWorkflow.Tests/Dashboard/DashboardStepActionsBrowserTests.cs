using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The job page's step actions in headless Chromium against the real API and Worker: each top-level step of a finished
/// job offers "Retry from here" and "Fork from here". A fork from the LLM step with another model creates a new job
/// (the page goes to it) that reuses the steps before it and runs the LLM step with that model; a retry from a later
/// step runs it and what follows again in a second attempt while the steps before it keep their first attempt's rows.
/// </summary>
public sealed class DashboardStepActionsBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    protected override DashboardFixture Fixture => fixture;

    [Fact]
    public async Task AFinishedJobsStepsOfferRetryFromHereAndForkFromHereWithAnotherModel()
    {
        var source = await fixture.SubmitAsync("dashboard_pipeline", new { topic = "forks", service_url = fixture.SlowUrl }, action: "step actions", cancellationToken: Ct);
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(source, Ct))["status"]);
        var page = await NewPageAsync();
        await SignInAsync(page, $"#/jobs/{source}");

        var draft = page.Locator("[data-role=timeline] > li[data-step-id=draft]");
        await Expect(draft.Locator("button[data-action=retry-from]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-role=timeline] > li[data-step-id=prepare] button[data-action=retry-from]")).ToBeVisibleAsync();
        await draft.Locator("[data-role=fork-from] summary").ClickAsync();
        var form = draft.Locator("[data-role=fork-form]");
        await Expect(form.Locator("select[name=step] option")).ToHaveCountAsync(1);
        await form.Locator("input[name=model]").FillAsync("mock/echo");
        await form.Locator("button[data-action=fork]").ClickAsync();

        // The page follows the fork: a new job linked to its source, the LLM step run again with the chosen model.
        await Expect(page).Not.ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"#/jobs/{source}$"));
        var fork = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        var forked = await fixture.WaitForTerminalAsync(fork, Ct);
        Assert.Equal(("completed", source, "draft"), ((string?)forked["status"], (string?)forked["forked_from"]!["job_id"], (string?)forked["forked_from"]!["step"]));
        var forkDraft = forked["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "draft")!;
        Assert.Contains("echo", (string?)forkDraft["model"], StringComparison.Ordinal);
        await Expect(page.Locator("[data-role=forked-from]")).ToBeVisibleAsync();

        // Retry the source from its "review" step: a second attempt runs review and what follows; the draft keeps attempt 1.
        await page.GotoAsync($"dashboard/#/jobs/{source}");
        await page.Locator("[data-role=timeline] > li[data-step-id=review] button[data-action=retry-from]").ClickAsync();
        var retried = await WaitForAttemptAsync(source, 2);
        Assert.Equal("completed", (string?)retried["status"]);
        var rows = retried["steps"]!.AsArray().Select(s => ((string)s!["step_id"]!, (int)s["job_attempt"]!)).ToList();
        Assert.DoesNotContain(("draft", 2), rows);
        Assert.Contains(("review", 2), rows);
        Assert.Contains(("summarize", 2), rows);
        AssertNoConsoleErrors();
    }

    private async Task<JsonObject> WaitForAttemptAsync(string jobId, int attempt)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var status = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/status/{jobId}", Ct))!;
            if ((int?)status["attempt"] == attempt && (string?)status["status"] is "completed" or "failed" or "cancelled")
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {jobId} did not finish attempt {attempt}: {status.ToJsonString()}");
            await Task.Delay(100, Ct);
        }
    }
}
