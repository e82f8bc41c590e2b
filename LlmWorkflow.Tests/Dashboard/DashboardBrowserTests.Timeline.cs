using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The job timeline as a tree (for_each iterations with their index, parallel branches under their parent, siblings
/// in the definition's order), checked against the step records the API returns, for the shipped trip_briefing and a
/// retried job; and the job page's way out to where the job ran (tenant, worker, trace).
/// </summary>
public sealed partial class DashboardBrowserTests
{
    /// <summary>Each step row of the timeline with the step and the group (iteration or branch) it is nested in.</summary>
    private const string ReadTimelineScript = """
        () => JSON.stringify([...document.querySelectorAll('[data-role=timeline] li[data-step-key]')].map((li) => {
          const parent = li.parentElement.closest('li[data-step-key]');
          const group = li.closest('li.step-group');
          return {
            key: li.dataset.stepKey, id: li.dataset.stepId, status: li.dataset.status,
            parentKey: parent?.dataset.stepKey ?? null, parentId: parent?.dataset.stepId ?? null,
            branch: group ? (group.dataset.iteration ?? group.dataset.branch ?? null) : null,
            label: group?.querySelector(':scope > .group-label')?.textContent ?? null,
          };
        }))
        """;

    [Fact]
    public async Task TripBriefingTimelineNestsIterationsAndBranchesAsTheStepRecordsSay()
    {
        var jobId = await fixture.SubmitAsync(
            "trip_briefing", new { traveler = "Ada", destination = "Kyoto", start_date = "2026-04-01", days = 4, interests = new[] { "food", "temples", "gardens" } },
            action: "trip to Kyoto", cancellationToken: Ct);
        var status = await fixture.WaitForTerminalAsync(jobId, Ct);
        Assert.Equal("completed", (string?)status["status"]);

        var page = await OpenAsync($"#/jobs/{jobId}");
        await Expect(page.Locator("main[data-job-status=completed][data-step-order=definition] [data-role=timeline] li[data-step-key='suggest_activities[2]/activity_line']")).ToBeVisibleAsync();
        var shown = await AssertTimelineMatchesRecordsAsync(page, status);

        // Three iterations, each labelled with its index as the CLI prints it, holding that iteration's two steps.
        foreach (var index in new[] { "0", "1", "2" })
        {
            var iteration = shown.Where(s => s.ParentKey == "suggest_activities" && s.Branch == index).ToList();
            Assert.Equal([$"suggest_activities[{index}]/suggest_activity", $"suggest_activities[{index}]/activity_line"], iteration.Select(s => s.Key));
            Assert.All(iteration, s => Assert.Contains($"suggest_activities[{index}]", s.Label, StringComparison.Ordinal));
        }

        // The parallel branches sit under their parent, in the definition's order.
        Assert.Equal(["climate_outlook", "packing_list", "packing_items"], shown.Where(s => s.ParentKey == "research").Select(s => s.Key));
        Assert.Equal(["outlook", "packing", "packing"], shown.Where(s => s.ParentKey == "research").Select(s => s.Branch));

        // An llm step's answer reads as text, not as escaped JSON.
        var outlook = page.Locator("li[data-step-key=climate_outlook]");
        await outlook.GetByText("Details of Checking Weather Outlook").ClickAsync();
        var answer = outlook.Locator("[data-role=step-output][data-format=markdown]");
        await Expect(answer).ToBeVisibleAsync();
        var text = (string)status["steps"]!.AsArray().Single(s => (string?)s!["step_key"] == "climate_outlook")!["output"]!["text"]!;
        var firstLine = text.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].TrimStart('#', ' ', '-', '*');
        await Expect(answer.Locator(".markdown")).ToContainTextAsync(firstLine[..Math.Min(20, firstLine.Length)]);
        await Expect(answer.Locator(".markdown")).Not.ToContainTextAsync("\"text\":");

        // The Cost card names every model the job used, in words.
        var models = status["result"]!["cost_data"]!["models"]!.AsArray().Select(m => (string)m!["model"]!).ToArray();
        Assert.True(models.Length >= 2, status["result"]!["cost_data"]!.ToJsonString());
        Assert.Equal(models, await page.Locator("table[data-role=cost-models] tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.model)"));
        await Expect(page.Locator("[data-role=cost] dt").First).ToHaveTextAsync("Total cost");
        await Expect(page.Locator("[data-role=cost]")).Not.ToContainTextAsync("_");

        await page.Locator("li[data-step-key=climate_outlook] > details").EvaluateAsync("d => d.open = false");
        await ScreenshotForDocs(page, page.Locator("section[aria-labelledby=progress-title]"), "job-detail-tree");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task RetriedJobKeepsItsTreeInTheDefinitionsOrder()
    {
        await using var flaky = await FlakyService.StartAsync();
        var jobId = await fixture.SubmitAsync(
            "dashboard_nested_retry", new { service_url = flaky.Url, places = new[] { "Kyoto", "Nara" } }, action: "nested retry", cancellationToken: Ct);
        Assert.Equal("failed", (string?)(await fixture.WaitForTerminalAsync(jobId, Ct))["status"]);

        flaky.Failing = false;
        var page = await OpenAsync($"#/jobs/{jobId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry job" }).ClickAsync();
        await Expect(page.Locator("main")).ToHaveAttributeAsync("data-job-status", "completed", new() { Timeout = 90_000 });
        var status = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/status/{jobId}", Ct))!;
        Assert.Equal(2, (int)status["attempt"]!);
        // The retry re-ran the parallel step and its failed branch; the iterations and the other branch kept attempt 1's rows.
        var rows = status["steps"]!.AsArray().Select(s => ((string)s!["step_key"]!, (int)s["job_attempt"]!)).ToList();
        Assert.Contains(("gather", 2), rows);
        Assert.Contains(("fetch", 2), rows);
        Assert.DoesNotContain(("each[0]/describe", 2), rows);

        await Expect(page.Locator("[data-role=timeline] li[data-step-key=fetch]")).ToHaveAttributeAsync("data-status", "completed");
        await Expect(page.Locator("[data-role=timeline] li[data-step-key=gather]")).ToHaveAttributeAsync("data-status", "completed");
        var shown = await AssertTimelineMatchesRecordsAsync(page, status);
        Assert.Equal(["prepare", "each", "gather"], shown.Where(s => s.ParentKey is null).Select(s => s.Key));
        Assert.Equal(["each[0]/describe", "each[0]/rate", "each[1]/describe", "each[1]/rate"], shown.Where(s => s.ParentKey == "each").Select(s => s.Key));
        Assert.Equal(["note", "fetch"], shown.Where(s => s.ParentKey == "gather").Select(s => s.Key));
        await Expect(page.Locator("li[data-step-key='each[1]/rate']")).ToContainTextAsync("From attempt 1");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task JobPageShowsTenantWorkerAndTraceLinkedToTheAspireDashboard()
    {
        var jobId = await fixture.SubmitAsync("dashboard_quick", new { n = 3 }, action: "where it ran", cancellationToken: Ct);
        var status = await fixture.WaitForTerminalAsync(jobId, Ct);
        var config = await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/admin/dashboard/config", Ct);
        Assert.Equal(DashboardFixture.AspireDashboardUrl, (string?)config!["aspire_dashboard_url"]);

        // The job's own trace id and worker, as the status answer gives them (no stand-in values).
        var traceId = Assert.IsType<string>((string?)status["trace_id"]);
        Assert.Matches("^[0-9a-f]{32}$", traceId);
        var workerId = Assert.IsType<string>((string?)status["worker_id"]);
        var page = await fixture.NewPageAsync(ColorScheme.Light, 1280, 800, Contexts, ConsoleErrors);
        await SignInAsync(page, $"#/jobs/{jobId}");
        var details = page.Locator("section[aria-labelledby=details-title]");
        await Expect(details.Locator("[data-role=tenant]")).ToHaveTextAsync((string)status["tenant_id"]!);
        await Expect(details.Locator("[data-role=worker-id]")).ToHaveTextAsync(workerId);
        var trace = details.Locator("a[data-role=trace-id]");
        await Expect(trace).ToHaveTextAsync(traceId);
        await Expect(trace).ToHaveAttributeAsync("href", $"{DashboardFixture.AspireDashboardUrl}/traces/detail/{traceId}");
        AssertNoConsoleErrors();
    }

    /// <summary>
    /// Every step record (the latest attempt of each key) is one row of the tree, nested under the step its
    /// parent_step_id names, in the group its branch names, with its status; siblings follow the definition's order.
    /// </summary>
    private async Task<List<TimelineRow>> AssertTimelineMatchesRecordsAsync(IPage page, JsonObject status)
    {
        var shown = JsonNode.Parse(await page.EvaluateAsync<string>(ReadTimelineScript))!.AsArray()
            .Select(r => new TimelineRow((string)r!["key"]!, (string)r["id"]!, (string?)r["status"], (string?)r["parentKey"], (string?)r["parentId"], (string?)r["branch"], (string?)r["label"]))
            .ToList();
        var latest = status["steps"]!.AsArray().GroupBy(s => (string)s!["step_key"]!).ToDictionary(g => g.Key, g => g.MaxBy(s => (int)s!["job_attempt"]!)!);
        Assert.Equal(latest.Keys.Order(StringComparer.Ordinal), shown.Select(s => s.Key).Order(StringComparer.Ordinal));
        foreach (var row in shown)
        {
            var record = latest[row.Key];
            Assert.Equal((string?)record["parent_step_id"], row.ParentId);
            Assert.Equal((string?)record["branch"], row.Branch);
            Assert.Equal((string?)record["status"], row.Status);
        }

        // Siblings in the definition's order (depth-first over every nested block), iterations by index.
        var definition = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/workflows/{(string)status["workflow_name"]!}", Ct))!;
        var order = new List<string>();
        CollectStepIds(definition["steps"]!, order);
        foreach (var siblings in shown.GroupBy(s => (s.ParentKey, s.Branch)))
        {
            var ranks = siblings.Select(s => order.IndexOf(s.Id)).ToList();
            Assert.Equal(ranks.Order(), ranks);
        }

        foreach (var iterations in shown.Where(s => s.ParentKey is not null && (string?)latest[s.ParentKey]["type"] == "for_each").GroupBy(s => s.ParentKey))
        {
            var indices = iterations.Select(s => int.Parse(s.Branch!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(indices.Order(), indices);
        }

        return shown;
    }

    private static void CollectStepIds(JsonNode node, List<string> order)
    {
        switch (node)
        {
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        CollectStepIds(item, order);
                    }
                }

                break;
            case JsonObject step:
                if (step["id"] is JsonValue id && step["type"] is JsonValue && !order.Contains((string)id!))
                {
                    order.Add((string)id!);
                }

                foreach (var (_, value) in step)
                {
                    if (value is not null)
                    {
                        CollectStepIds(value, order);
                    }
                }

                break;
        }
    }

    private sealed record TimelineRow(string Key, string Id, string? Status, string? ParentKey, string? ParentId, string? Branch, string? Label);
}
