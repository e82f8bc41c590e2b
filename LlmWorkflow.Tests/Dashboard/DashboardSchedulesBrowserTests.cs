using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The Schedules view in headless Chromium against the real API and Worker: a schedule is listed with its cron, zone,
/// next runs and state; Pause and Resume change it; Edit changes its cron; Run now starts a tick's job at once (the
/// worker's ticker decides it), whose page names its schedule; axe finds nothing serious. The API's trigger refuses a
/// paused schedule (409); another tenant's is a 404 (TenantIsolationTests walks every route).
/// </summary>
public sealed class DashboardSchedulesBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    protected override DashboardFixture Fixture => fixture;

    [Fact]
    public async Task AnOperatorPausesResumesEditsAndRunsAScheduleNow()
    {
        // Yearly: no tick of its own during the test, so the one job it starts is the Run now's.
        var id = await CreateScheduleAsync(fixture.Admin, "nightly digest", "0 0 1 1 *", Ct);
        var page = await NewPageAsync();
        await SignInAsync(page, "#/schedules");
        var row = page.Locator($"tr[data-schedule-id='{id}']");
        await Expect(row.Locator("[data-role=schedule-name]")).ToHaveTextAsync("nightly digest");
        await Expect(row.Locator("[data-role=cron]")).ToHaveTextAsync("0 0 1 1 *");
        await Expect(row.Locator("[data-role=next-runs] li")).ToHaveCountAsync(3);
        await Expect(row.Locator("[data-role=schedule-state]")).ToHaveTextAsync("active");
        await DashboardBrowserTests.AssertNoSeriousAccessibilityViolationsAsync(page, "schedules");

        await row.Locator("button[data-action=pause]").ClickAsync();
        await Expect(row.Locator("[data-role=schedule-state]")).ToHaveTextAsync("paused");
        await Expect(row.Locator("button[data-action=run-now]")).ToBeDisabledAsync();
        Assert.True((bool)(await ScheduleAsync(id))["paused"]!);
        using (var refused = await fixture.Admin.PostAsync($"api/v1/schedules/{id}/trigger", null, Ct))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        }

        await row.Locator("button[data-action=resume]").ClickAsync();
        await Expect(row.Locator("[data-role=schedule-state]")).ToHaveTextAsync("active");

        await row.Locator("summary").ClickAsync();
        await row.GetByLabel("Cron").FillAsync("30 6 1 1 *");
        await row.Locator("button[data-action=save-schedule]").ClickAsync();
        await Expect(row.Locator("[data-role=cron]")).ToHaveTextAsync("30 6 1 1 *");
        Assert.Equal("30 6 1 1 *", (string?)(await ScheduleAsync(id))["cron"]);

        await row.Locator("button[data-action=run-now]").ClickAsync();
        var jobId = await TickJobAsync(id);
        var done = await fixture.WaitForTerminalAsync(jobId, Ct);
        Assert.Equal(id, (string?)done["schedule_id"]);
        // The cron's own next tick stays where it was: Run now added a tick, it did not move the schedule.
        Assert.True(DateTimeOffset.Parse((string)(await ScheduleAsync(id))["next_run_at"]!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddDays(1));

        await page.EvaluateAsync($"location.hash = '#/jobs/{jobId}'");
        var scheduleLink = page.Locator("[data-role=schedule-id]");
        await Expect(scheduleLink).ToHaveAttributeAsync("href", $"#/jobs?schedule_id={id}");
        await scheduleLink.ClickAsync();
        await Expect(page.Locator($"tr[data-job-id='{jobId}']")).ToBeVisibleAsync();
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task AScheduledJobIsRescheduledAndRunNowAndAHeldOneSaysItsWorkflowIsPaused()
    {
        using var later = await fixture.Admin.PostAsJsonAsync("api/v1/workflow", new { workflow_name = "dashboard_quick", input_data = new { n = 1 }, delay_seconds = 3600 }, Ct);
        later.EnsureSuccessStatusCode();
        var scheduled = (string)(await later.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!;
        var page = await NewPageAsync();
        await SignInAsync(page, $"#/jobs/{scheduled}");
        await Expect(page.Locator("main[data-job-status=scheduled]")).ToBeVisibleAsync();
        await Expect(page.Locator("main")).ToContainTextAsync("Scheduled for");
        await page.Locator("[data-role=reschedule] input[name=run_at]").FillAsync(DateTime.Now.AddDays(2).ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.Locator("button[data-action=reschedule]").ClickAsync();
        await WaitUntilAsync(async () => DateTimeOffset.Parse((string)(await StatusAsync(scheduled))["run_at"]!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddDays(1.5));
        await page.Locator("button[data-action=run-now]").ClickAsync();
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(scheduled, Ct))["status"]);

        // A job held by its workflow's pause is due already: its page says so, not "Scheduled for" its creation time.
        Assert.True((await fixture.Admin.PostAsJsonAsync("api/v1/workflows/dashboard_quick/pause", new { reason = "provider outage" }, Ct)).IsSuccessStatusCode);
        try
        {
            var held = await fixture.SubmitAsync("dashboard_quick", new { n = 2 }, cancellationToken: Ct);
            await page.EvaluateAsync($"location.hash = '#/jobs/{held}'");
            await Expect(page.Locator("main[data-job-status=scheduled]")).ToBeVisibleAsync();
            await Expect(page.Locator("main")).ToContainTextAsync("Held: its workflow dashboard_quick is paused (provider outage)");
            await Expect(page.Locator("main")).Not.ToContainTextAsync("Scheduled for");
        }
        finally
        {
            await fixture.Admin.PostAsync("api/v1/workflows/dashboard_quick/resume", null, Ct);
        }

        AssertNoConsoleErrors();
    }

    private async Task<JsonObject> StatusAsync(string jobId) =>
        (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/status/{jobId}", Ct))!;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not within 30 s");
            await Task.Delay(200, Ct);
        }
    }

    /// <summary>Creates a schedule of dashboard_quick; returns its id.</summary>
    internal static async Task<string> CreateScheduleAsync(HttpClient admin, string name, string cron, CancellationToken ct)
    {
        using var response = await admin.PostAsJsonAsync("api/v1/schedules", new { name, workflow_name = "dashboard_quick", cron, input_data = new { n = 1 } }, ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(ct));
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["schedule_id"]!;
    }

    private async Task<JsonObject> ScheduleAsync(string id) =>
        (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/schedules/{id}", Ct))!;

    /// <summary>The job of the schedule's first started tick, once the ticker has decided it.</summary>
    private async Task<string> TickJobAsync(string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var ticks = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/schedules/{id}/ticks", Ct))!["ticks"]!.AsArray();
            if (ticks.FirstOrDefault(t => (string?)t!["outcome"] == "started")?["job_id"] is { } job)
            {
                return (string)job!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"No tick started within 60 s of Run now: {ticks.ToJsonString()}");
            await Task.Delay(200, Ct);
        }
    }
}
