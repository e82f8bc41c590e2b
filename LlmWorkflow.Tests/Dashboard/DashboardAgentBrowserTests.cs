using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The agent loop on the job page in headless Chromium against the real API and Worker, running the shipped
/// <c>support_agent</c> on the mock provider: parked on its refund approval the page shows one row per paid turn with
/// its tokens and cost, the tool calls nested in their turn (the refund waiting for approval); after the approval the
/// page follows the run live to its third turn. Every row is compared with <c>GET /jobs/{id}/agent/turns</c>; the
/// approver's comment, markup in it included, is shown as text; axe finds nothing serious, waiting or finished, light or dark.
/// </summary>
public sealed class DashboardAgentBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    private const string HostileComment = """<img src=x onerror="window.__pwned=1"> **half** the total""";

    protected override DashboardFixture Fixture => fixture;

    [Fact]
    public async Task TheJobPageShowsTheAgentLoopTurnByTurnWithCostAndItsToolCallsNested()
    {
        var job = await fixture.SubmitAsync("support_agent",
            new { customer_name = "Ana", order_id = "A-1042", message = "The strap of my backpack tore on day one." }, action: "agent view", cancellationToken: Ct);
        await JobPolling.WaitForStatusAsync(fixture.Admin, $"api/v1/status/{job}", "waiting", TimeSpan.FromSeconds(60), Ct);

        var page = await NewPageAsync();
        await SignInAsync(page, $"#/jobs/{job}");
        var panel = page.Locator("[data-role=agent-turns][data-agent-step=resolve_request]");
        await Expect(panel.Locator("tbody > tr")).ToHaveCountAsync(2);
        await AssertRowsMatchTheApiAsync(panel, job);
        var refund = panel.Locator("tr[data-turn='1'] li[data-tool=issue_refund]");
        await Expect(refund).ToHaveAttributeAsync("data-call-status", "awaiting_approval");
        await Expect(refund.Locator("[data-role=call-approval]")).ToHaveAttributeAsync("data-decision", "pending");
        await Expect(panel.Locator("tr[data-turn='0'] li[data-tool=lookup_order] [data-role=call-result]")).ToContainTextAsync("torn strap");
        await DashboardBrowserTests.AssertNoSeriousAccessibilityViolationsAsync(page, "agent job waiting for a tool approval");

        using var approval = await fixture.Admin.PostAsync($"api/v1/jobs/{job}/signals/approval", new StringContent(
            new JsonObject { ["approved"] = true, ["comment"] = HostileComment, ["decided_by"] = "dashboard" }.ToJsonString(), Encoding.UTF8, "application/json"), Ct);
        approval.EnsureSuccessStatusCode();

        // The page follows the resumed run live: the third turn (the answer) arrives without a reload.
        await Expect(panel.Locator("tbody > tr")).ToHaveCountAsync(3, new() { Timeout = 60_000 });
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(job, Ct))["status"]);
        await Expect(page.Locator("main")).ToHaveAttributeAsync("data-job-status", "completed");
        await AssertRowsMatchTheApiAsync(panel, job);
        await Expect(refund).ToHaveAttributeAsync("data-call-status", "finished");
        var decision = refund.Locator("[data-role=call-approval]");
        await Expect(decision).ToHaveAttributeAsync("data-decision", "approved");
        // Untrusted text stays text: the comment's markup is shown, never parsed.
        await Expect(decision).ToContainTextAsync(HostileComment);
        await Expect(panel.Locator("img")).ToHaveCountAsync(0);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));
        await Expect(panel.Locator("tr[data-turn='2'] [data-role=turn-text]")).ToContainTextAsync("refunded");

        await DashboardBrowserTests.AssertNoSeriousAccessibilityViolationsAsync(page, "agent job finished");
        await ScreenshotForDocsAsync(page, "job-detail-agent-light-1280");
        var dark = await NewPageAsync(ColorScheme.Dark, width: 1024);
        await SignInAsync(dark, $"#/jobs/{job}");
        await Expect(dark.Locator("[data-role=agent-turns] tbody > tr")).ToHaveCountAsync(3);
        await DashboardBrowserTests.AssertNoSeriousAccessibilityViolationsAsync(dark, "agent job finished, dark, 1024 px");
        await page.SetViewportSizeAsync(1024, 800);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"),
            "the agent's turns scroll the page sideways at 1024 px");
        AssertNoConsoleErrors();
    }

    /// <summary>The docs' screenshot of the agent's turns, refreshed with <c>UPDATE_SCREENSHOTS=1</c> (nothing is taken otherwise).</summary>
    private static async Task ScreenshotForDocsAsync(IPage page, string name)
    {
        if (!DashboardFixture.TakesScreenshot(forDocs: true))
        {
            return;
        }

        var path = Path.Combine(DashboardFixture.ScreenshotDirectory, name + ".png");
        await page.Locator("[data-role=agent-turns]").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled });
        if (DashboardFixture.UpdatesDocsScreenshots)
        {
            File.Copy(path, Path.Combine(RepositoryPaths.Root, "docs", "screenshots", name + ".png"), overwrite: true);
        }
    }

    /// <summary>Each row against the API's turn: model, tokens, cost as the page formats it, how it ended, its tool calls in order.</summary>
    private async Task AssertRowsMatchTheApiAsync(ILocator panel, string job)
    {
        var read = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{job}/agent/turns?step_key=resolve_request", Ct))!;
        var turns = read["turns"]!.AsArray();
        await Expect(panel.Locator("tbody > tr")).ToHaveCountAsync(turns.Count);
        foreach (var turn in turns)
        {
            var row = panel.Locator($"tbody > tr[data-turn='{(int)turn!["turn"]!}']");
            await Expect(row.Locator("[data-role=turn-number]")).ToHaveTextAsync(((int)turn["turn"]! + 1).ToString(CultureInfo.InvariantCulture));
            await Expect(row.Locator("[data-role=turn-model]")).ToHaveTextAsync((string)turn["model"]!);
            await Expect(row.Locator("[data-role=turn-tokens]")).ToHaveTextAsync($"{Tokens(turn["input_tokens"])} / {Tokens(turn["output_tokens"])}");
            await Expect(row.Locator("[data-role=turn-cost]")).ToHaveTextAsync(Cost((decimal?)turn["cost_usd"]));
            await Expect(row).ToHaveAttributeAsync("data-finish-reason", (string)turn["finish_reason"]!);
            var tools = turn["tool_calls"]!.AsArray().Select(c => (string)c!["tool"]!).ToArray();
            await Expect(row.Locator("li[data-role=tool-call]")).ToHaveCountAsync(tools.Length);
            for (var i = 0; i < tools.Length; i++)
            {
                await Expect(row.Locator("li[data-role=tool-call]").Nth(i)).ToHaveAttributeAsync("data-tool", tools[i]);
            }
        }

        await Expect(panel.Locator("caption")).ToContainTextAsync(read["cost_usd"] is null ? "cost unknown" : Cost((decimal?)read["cost_usd"]));
    }

    private static string Tokens(JsonNode? count) => ((int)count!).ToString("N0", CultureInfo.InvariantCulture);

    // format.js's formatCost: two decimals from $1, four from a cent, six below.
    private static string Cost(decimal? usd) => usd switch
    {
        null => "—",
        0m => "$0.00",
        >= 1m => "$" + usd.Value.ToString("F2", CultureInfo.InvariantCulture),
        >= 0.01m => "$" + usd.Value.ToString("F4", CultureInfo.InvariantCulture),
        _ => "$" + usd.Value.ToString("F6", CultureInfo.InvariantCulture),
    };
}
