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

    private async Task<string> SubmitAsync(string topic)
    {
        using var response = await fixture.Admin.PostAsJsonAsync("api/v1/workflow", new { workflow_name = "dashboard_approval", input_data = new { topic } }, Ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!;
    }
}
