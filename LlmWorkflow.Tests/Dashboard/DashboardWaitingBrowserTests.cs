using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The Waiting view in headless Chromium against the real API and Worker: a job parked at an approval step is listed
/// with its prompt, the operator approves it with a comment (through the API with the admin key, decided_by
/// "dashboard") and the job completes with that decision; another is sent a signal with a JSON body from the form.
/// </summary>
public sealed class DashboardWaitingBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    protected override DashboardFixture Fixture => fixture;

    [Fact]
    public async Task AnOperatorApprovesAWaitingJobAndSendsASignalFromTheWaitingView()
    {
        var approved = await SubmitAsync("approve-me");
        var signalled = await SubmitAsync("signal-me");
        foreach (var id in new[] { approved, signalled })
        {
            await JobPolling.WaitForStatusAsync(fixture.Admin, $"api/v1/status/{id}", "waiting", TimeSpan.FromSeconds(60), Ct);
        }

        var page = await NewPageAsync();
        await SignInAsync(page, "#/waiting");
        var row = page.Locator($"tr[data-job-id='{approved}']");
        await Expect(row).ToHaveAttributeAsync("data-kind", "approval");
        await Expect(row.Locator("[data-role=prompt]")).ToHaveTextAsync("Publish the draft about approve-me?");
        // What is being approved: the draft step's output, and the decision page that shows it whole.
        await Expect(row.Locator("[data-role=approving]")).ToContainTextAsync("Draft about approve-me");
        await Expect(row.Locator("[data-role=decision-page]")).ToHaveCountAsync(1);

        await row.Locator("input[name=comment]").FillAsync("looks good");
        await row.Locator("button[data-action=approve]").ClickAsync();
        var done = await fixture.WaitForTerminalAsync(approved, Ct);
        var decision = done["result"]!["output"]!["decision"]!;
        Assert.Equal((true, "looks good", "dashboard"), ((bool?)decision["approved"], (string?)decision["comment"], (string?)decision["decided_by"]));
        await Expect(row).ToHaveCountAsync(0);

        var other = page.Locator($"tr[data-job-id='{signalled}']");
        await other.Locator("summary").ClickAsync();
        await other.GetByLabel("Body (JSON)").FillAsync("""{"approved": false, "comment": "by hand"}""");
        await other.Locator("button[data-action=send-signal]").ClickAsync();
        var rejected = (await fixture.WaitForTerminalAsync(signalled, Ct))["result"]!["output"]!["decision"]!;
        Assert.Equal((false, "by hand", "api"), ((bool?)rejected["approved"], (string?)rejected["comment"], (string?)rejected["decided_by"]));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task EveryWaitIsListedByDefaultAndItsControlsPassAxe()
    {
        var approval = await SubmitAsync("listed-approval");
        using var submitted = await fixture.Admin.PostAsJsonAsync("api/v1/workflow", new { workflow_name = "dashboard_sleep", input_data = new { } }, Ct);
        submitted.EnsureSuccessStatusCode();
        var sleeping = (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!;
        foreach (var id in new[] { approval, sleeping })
        {
            await JobPolling.WaitForStatusAsync(fixture.Admin, $"api/v1/status/{id}", "waiting", TimeSpan.FromSeconds(60), Ct);
        }

        var page = await NewPageAsync();
        await SignInAsync(page, "#/waiting");
        // All waits by default (it opened on Approvals and hid the sleep); the caption counts what the Jobs list counts.
        await Expect(page.Locator("select[name=kind]")).ToHaveValueAsync("");
        await Expect(page.Locator($"tr[data-job-id='{sleeping}']")).ToHaveAttributeAsync("data-kind", "sleep");
        await Expect(page.Locator($"tr[data-job-id='{approval}']")).ToHaveAttributeAsync("data-kind", "approval");
        var waitingTotal = (int)(await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/jobs?status_filter=waiting&limit=1", Ct))!["total"]!;
        await Expect(page.Locator("[data-role=waiting-box] caption")).ToHaveTextAsync($"{waitingTotal} waiting job(s)");

        // WCAG 2.2 target size: the "Send any signal" disclosure is at least 24 px tall (it was 21.8).
        var summary = page.Locator($"tr[data-job-id='{approval}'] summary");
        var box = await summary.BoundingBoxAsync();
        Assert.True(box is { Height: >= 24 }, $"'Send any signal' is {box?.Height} px tall");
        await DashboardBrowserTests.AssertNoSeriousAccessibilityViolationsAsync(page, "waiting with an approval and a sleep");

        await page.Locator("select[name=kind]").SelectOptionAsync("sleep");
        await Expect(page.Locator($"tr[data-job-id='{approval}']")).ToHaveCountAsync(0);
        await Expect(page.Locator($"tr[data-job-id='{sleeping}']")).ToBeVisibleAsync();
        using var cancelled = await fixture.Admin.DeleteAsync($"api/v1/workflow/{sleeping}", Ct);
        AssertNoConsoleErrors();
    }

    private async Task<string> SubmitAsync(string topic)
    {
        using var response = await fixture.Admin.PostAsJsonAsync("api/v1/workflow", new { workflow_name = "dashboard_approval", input_data = new { topic } }, Ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!;
    }
}
