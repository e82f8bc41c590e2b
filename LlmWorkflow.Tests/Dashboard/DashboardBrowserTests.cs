using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The operations dashboard in headless Chromium against the real API and Worker on real Postgres and Redis:
/// sign-in, the jobs list and its filters compared with the API, live progress over SSE, cancel, retry, costs, and
/// every view's layout checked in light and dark, desktop and phone (screenshots of them with SCREENSHOTS=1). Every
/// page must log no console error.
/// </summary>
public sealed partial class DashboardBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    private static readonly string[] LimitResultsOptions = ["25", "50", "100", "200", "Today", "7 Days", "30 Days"];

    protected override DashboardFixture Fixture => fixture;


    [Fact]
    public async Task SignInWithTheAdminKeyShowsSubmittedJobs()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await fixture.SubmitAsync("dashboard_quick", new { n = i }, username: "grace", action: $"sign-in check {i}", cancellationToken: Ct));
        }

        var page = await OpenAsync("#/jobs", signIn: false);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await page.GetByLabel("Admin API key").FillAsync(TestEnvironment.AdminKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Jobs" })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Limit results")).ToHaveValueAsync("25");
        foreach (var id in ids)
        {
            var row = page.Locator($"table[data-role=jobs] tr[data-job-id='{id}']");
            await Expect(row).ToBeVisibleAsync();
            await Expect(row).ToContainTextAsync("grace");
            await Expect(row).ToContainTextAsync("sign-in check");
            await Expect(row).ToContainTextAsync("dashboard_quick");
        }

        // The key lives in sessionStorage only.
        Assert.Equal(TestEnvironment.AdminKey, await page.EvaluateAsync<string>("sessionStorage.getItem('llmwf.dashboard.apiKey')"));
        Assert.Equal(0, await page.EvaluateAsync<int>("localStorage.length"));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task EveryLimitResultsOptionShowsWhatTheApiAnswers()
    {
        var recent = new List<string>();
        for (var i = 0; i < 60; i++)
        {
            recent.Add(await fixture.SubmitAsync("dashboard_quick", new { n = i }, username: $"user{i % 4}", cancellationToken: Ct));
        }

        await fixture.BackdateAsync(recent.Take(8), TimeSpan.FromDays(3));
        await fixture.BackdateAsync(recent.Skip(8).Take(6), TimeSpan.FromDays(20));
        await fixture.BackdateAsync(recent.Skip(14).Take(4), TimeSpan.FromDays(45));

        var page = await OpenAsync("#/jobs");
        await page.GetByLabel("Auto refresh").UncheckAsync();
        var table = page.Locator("table[data-role=jobs]");
        var totals = new HashSet<string>();
        foreach (var option in LimitResultsOptions)
        {
            await page.GetByLabel("Limit results").SelectOptionAsync(option);
            await Expect(table).ToHaveAttributeAsync("data-query", "limit_results=" + option.Replace(' ', '+'));

            var shown = await table.Locator("tbody tr[data-job-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)");
            var answer = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs?limit_results={Uri.EscapeDataString(option)}", Ct);
            var expected = answer!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!).ToArray();
            Assert.Equal(expected, shown);
            Assert.Equal(((int)answer["total"]!).ToString(CultureInfo.InvariantCulture), await table.GetAttributeAsync("data-total"));
            totals.Add($"{shown.Length}/{answer["total"]}");
        }

        // The options really differ (25/50/100/200 rows, and three periods over backdated jobs).
        Assert.True(totals.Count >= 5, string.Join(", ", totals));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task SearchByUsernameShortIdAndWorkflowFilterMatchTheApi()
    {
        var username = $"Searcher{Guid.NewGuid():N}"[..20];
        var first = await fixture.SubmitAsync("dashboard_quick", new { n = 1 }, username: username, userId: $"uid-{Guid.NewGuid():N}", cancellationToken: Ct);
        var second = await fixture.SubmitAsync("dashboard_quick", new { n = 2 }, username: username, userId: $"uid-{Guid.NewGuid():N}", cancellationToken: Ct);
        var failing = await fixture.SubmitAsync("dashboard_failing", new { }, username: username, cancellationToken: Ct);
        await fixture.WaitForTerminalAsync(failing, Ct);

        var page = await OpenAsync("#/jobs");
        await page.GetByLabel("Auto refresh").UncheckAsync();
        var table = page.Locator("table[data-role=jobs]");
        var rows = table.Locator("tbody tr[data-job-id]");

        // Keyboard only: the username as the table shows it, in lower case, then Enter.
        await page.GetByLabel("Search").FillAsync(username.ToLowerInvariant());
        await page.GetByLabel("Search").PressAsync("Enter");
        await Expect(table).ToHaveAttributeAsync("data-query", $"limit_results=25&search={username.ToLowerInvariant()}");
        Assert.Equal([failing, second, first], await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)"));

        // The workflow filter narrows the same search to one workflow.
        await page.GetByLabel("Workflow").SelectOptionAsync("dashboard_quick");
        await Expect(table).ToHaveAttributeAsync("data-query", $"limit_results=25&workflow_name=dashboard_quick&search={username.ToLowerInvariant()}");
        Assert.Equal([second, first], await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)"));
        await page.GetByLabel("Workflow").SelectOptionAsync("");

        // The short id shown under the workflow name finds its job, and so does a prefix of the full id.
        var shortId = await table.Locator($"tr[data-job-id='{first}'] .mono").InnerTextAsync();
        Assert.True(first.EndsWith(shortId, StringComparison.Ordinal), $"short id {shortId} of {first}");
        foreach (var term in new[] { shortId, first[..^4].ToUpperInvariant() })
        {
            await page.GetByLabel("Search").FillAsync(term);
            await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
            await Expect(table).ToHaveAttributeAsync("data-query", $"limit_results=25&search={term}");
            await Expect(rows).ToHaveCountAsync(1);
            await Expect(rows.First).ToHaveAttributeAsync("data-job-id", first);
        }

        await page.GetByLabel("Search").FillAsync("");
        await page.GetByLabel("Status").SelectOptionAsync("failed");
        await Expect(table).ToHaveAttributeAsync("data-query", "status_filter=failed&limit_results=25");
        var answer = await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/jobs?status_filter=failed&limit_results=25", Ct);
        var expected = answer!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!).ToArray();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)"));
        Assert.All(await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.status)"), s => Assert.Equal("failed", s));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task RunningJobDetailAdvancesLiveAndCompletesWithoutReload()
    {
        var jobId = await fixture.SubmitAsync("dashboard_pipeline", new { topic = "otters", service_url = fixture.SlowUrl }, username: "ada", action: "live progress", cancellationToken: Ct);
        var page = await OpenAsync($"#/jobs/{jobId}");
        await page.EvaluateAsync("window.__sameDocument = true");
        var main = page.Locator("main");

        // A step finished while the job is still processing: only a live page gets there.
        await Expect(page.Locator("main[data-job-status=processing] [data-role=timeline] li[data-step-id=draft][data-status=completed]")).ToBeVisibleAsync();
        await Expect(page.Locator("li[data-step-id=draft]")).ToContainTextAsync("Draft the note");
        await Expect(page.Locator("li[data-step-id=draft] pre.stream")).ToContainTextAsync("lorem ipsum");
        await Expect(page.Locator("li[data-step-id=draft]")).ToContainTextAsync("Model mock/lorem");
        await Expect(page.Locator("[data-role=progress-text]")).ToContainTextAsync("Running");
        // While it runs, the details say when it started and which attempt this is (not "—" and 0).
        await Expect(page.Locator("[data-role=attempt]")).ToHaveTextAsync("1");
        await Expect(page.Locator("section[aria-labelledby=details-title] dt:text-is('Started') + dd")).Not.ToHaveTextAsync("—");
        await Screenshot(page, "job-detail-live", "light", 1280);

        await Expect(main).ToHaveAttributeAsync("data-job-status", "completed", new() { Timeout = 60_000 });
        foreach (var step in new[] { "prepare", "research", "draft", "review", "polish", "summarize" })
        {
            await Expect(page.Locator($"li[data-step-id={step}]")).ToHaveAttributeAsync("data-status", "completed");
        }

        await Expect(page.Locator("li[data-step-id=review]")).ToContainTextAsync("Attempts 1");
        await Expect(page.Locator("li[data-step-id=review]")).ToContainTextAsync("Duration");
        await Expect(page.Locator("[data-role=output]")).ToContainTextAsync("summary");
        await Expect(page.Locator("[data-role=progress-text]")).ToHaveTextAsync("Completed — 100%");
        Assert.True(await page.EvaluateAsync<bool>("window.__sameDocument === true"), "The page was reloaded.");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task CancelFromTheListStopsARunningJob()
    {
        var jobId = await fixture.SubmitAsync("dashboard_pipeline", new { topic = "cancel me", service_url = fixture.SlowUrl }, action: "to be cancelled", cancellationToken: Ct);
        var page = await OpenAsync("#/jobs");
        var row = page.Locator($"table[data-role=jobs] tr[data-job-id='{jobId}']");
        await Expect(row).ToHaveAttributeAsync("data-status", "processing");
        await Expect(row.Locator("progress")).ToBeVisibleAsync();
        await Expect(row.Locator("[data-role=current-step]")).Not.ToBeEmptyAsync();

        await row.GetByRole(AriaRole.Button, new() { Name = $"Cancel job {jobId[^8..]}" }).ClickAsync();

        await Expect(row).ToHaveAttributeAsync("data-status", "cancelled", new() { Timeout = 30_000 });
        var status = await fixture.WaitForTerminalAsync(jobId, Ct);
        Assert.Equal("cancelled", (string?)status["status"]);
        // A cancel is not a failure: no error taxonomy (it used to say USER_ERROR).
        Assert.Null(status["error"]);
        Assert.DoesNotContain(status["steps"]!.AsArray(), s => (string?)s!["step_id"] == "summarize" && (string?)s["status"] == "completed");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task StepDetailShowsTimesAndMarkdownOutputAndTheJobOutputAsJson()
    {
        var jobId = await fixture.SubmitAsync("dashboard_markdown", new { name = "Ada" }, cancellationToken: Ct);
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(jobId, Ct))["status"]);

        var page = await OpenAsync($"#/jobs/{jobId}");
        var step = page.Locator("li[data-step-id=report]");
        await step.GetByText("Details of Write the report").ClickAsync();
        var output = step.Locator("[data-role=step-output][data-format=markdown]");
        await Expect(output.Locator("h4")).ToHaveTextAsync("Report for Ada");
        await Expect(output.Locator("li strong")).ToHaveTextAsync("Bold");
        await Expect(output.Locator("li code")).ToHaveTextAsync("code");
        await Expect(output.Locator("p em")).ToHaveTextAsync("emphasis");
        // Markup in model output stays text.
        await Expect(output.Locator("img")).ToHaveCountAsync(0);
        await Expect(output.Locator("p")).ToContainTextAsync("<img src=x onerror=alert(1)>");
        await Expect(step.Locator("dt:text-is('Started') + dd")).Not.ToHaveTextAsync("—");
        await Expect(step.Locator("dt:text-is('Finished') + dd")).Not.ToHaveTextAsync("—");

        // The job output: each field labelled, its Markdown rendered, its JSON a click away and whole.
        var jobOutput = page.Locator("[data-role=output][data-format=fields]");
        await Expect(jobOutput.Locator("dd[data-field=report] h4")).ToHaveTextAsync("Report for Ada");
        await Expect(jobOutput.Locator("dd[data-field=name]")).ToHaveTextAsync("Ada");
        // Markdown nested in an object (an llm step's parsed_sections) is rendered too, under its key, not shown escaped.
        var sections = jobOutput.Locator("dd[data-field=parsed_sections]");
        await Expect(sections.Locator("dd[data-field=summary] h4")).ToHaveTextAsync("Report for Ada");
        await Expect(sections.Locator("dd[data-field=summary] li strong")).ToHaveTextAsync("Bold");
        await Expect(sections.Locator("dd[data-field=author]")).ToHaveTextAsync("Ada");
        await jobOutput.GetByText("As JSON").ClickAsync();
        var raw = jobOutput.Locator("[data-role=raw-json]");
        await Expect(raw).ToBeVisibleAsync();
        var shown = JsonNode.Parse(await raw.InnerTextAsync())!;
        var apiOutput = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/status/{jobId}", Ct))!["result"]!["output"]!;
        Assert.True(JsonNode.DeepEquals(apiOutput, shown), shown.ToJsonString());
        Assert.True(await raw.EvaluateAsync<bool>("e => e.scrollHeight <= e.clientHeight + 1"), "the job output is cut off inside its box");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task NonRetryableFailureOffersNoRetryAndSaysWhy()
    {
        var jobId = await fixture.SubmitAsync("dashboard_failing", new { }, action: "fails", cancellationToken: Ct);
        var failed = await fixture.WaitForTerminalAsync(jobId, Ct);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.False((bool)failed["error"]!["retryable"]!);

        var page = await OpenAsync($"#/jobs/{jobId}");
        var error = page.Locator("[data-role=error]");
        await Expect(error).ToBeVisibleAsync();
        await Expect(error).ToContainTextAsync("Category");
        await Expect(error.Locator("[data-role=no-retry]")).ToContainTextAsync("would happen again");
        await Screenshot(page, "job-detail-failed", "light", 1280);
        await Expect(page.Locator("[data-action=copy-curl]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-action=retry]")).ToHaveCountAsync(0);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task CancelledJobShowsAsCancelledAndItsRetryRunsTheRest()
    {
        // The wait step is held until the cancel has landed; its retry calls the released endpoint and completes.
        await using var hold = await HoldServer.StartAsync();
        var jobId = await fixture.SubmitAsync("dashboard_cancellable", new { service_url = hold.Url, wait_ms = "0" }, action: "cancel then retry", cancellationToken: Ct);
        var page = await OpenAsync($"#/jobs/{jobId}");
        await Expect(page.Locator("main[data-job-status=processing] [data-role=timeline] li[data-step-id=wait][data-status=running]")).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel job" }).ClickAsync();

        var main = page.Locator("main");
        await Expect(main).ToHaveAttributeAsync("data-job-status", "cancelled", new() { Timeout = 30_000 });
        // Cancelled is neither an error nor still running.
        await Expect(page.Locator("h1 .badge")).ToHaveTextAsync("cancelled");
        await Expect(page.Locator("[data-role=cancelled]")).ToContainTextAsync("The job was cancelled");
        await Expect(page.Locator("[data-role=error]")).ToHaveCountAsync(0);
        await Expect(page.Locator(".notice.error")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-role=timeline] li[data-status=running]")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-role=timeline] li[data-step-id=wait]")).ToHaveAttributeAsync("data-status", "cancelled");
        await Expect(page.Locator("[data-role=timeline] li[data-step-id=prepare]")).ToHaveAttributeAsync("data-status", "completed");
        await Screenshot(page, "job-detail-cancelled", "light", 1280);

        // Retry helps here: the job runs again as attempt 2 and the page follows it.
        hold.Release();
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry job" }).ClickAsync();
        try
        {
            await Expect(main).ToHaveAttributeAsync("data-job-status", "completed", new() { Timeout = 90_000 });
        }
        catch (PlaywrightException ex)
        {
            // The job's own status tells a page that stopped following the job from a retry that never finished.
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nThe job as the API reports it: {await fixture.Admin.GetStringAsync($"api/v1/status/{jobId}", Ct)}");
        }

        await Expect(page.Locator("[data-role=attempt]")).ToHaveTextAsync("2");
        await Expect(page.Locator("[data-role=cancelled]")).ToHaveCountAsync(0);
        await Expect(page.Locator("section.attempt[data-attempt='1']")).ToHaveAttributeAsync("data-status", "cancelled");
        await Expect(page.Locator("section.attempt[data-attempt='1']")).Not.ToContainTextAsync("USER_ERROR");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task PageFollowsAJobToItsEndWhenTheReadAfterItsLiveEndIsSuperseded()
    {
        // The wait step is held until the status answers are slowed below, so the page always sees it running first.
        await using var hold = await HoldServer.StartAsync();
        var jobId = await fixture.SubmitAsync("dashboard_cancellable", new { service_url = hold.Url, wait_ms = "0" }, action: "superseded read", cancellationToken: Ct);
        var page = await OpenAsync($"#/jobs/{jobId}");
        var wait = page.Locator("[data-role=timeline] li[data-step-id=wait]");
        await Expect(wait).ToHaveAttributeAsync("data-status", "running");

        // Status answers arrive 600 ms late: the read made at the live end is still out when the read made 400 ms after the
        // step's end replaces it (the page aborts the older one).
        static bool IsStatus(string url) => url.Contains("/api/v1/status/", StringComparison.Ordinal);
        var superseded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answeredAfter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        page.RequestFailed += (_, request) => { if (IsStatus(request.Url)) superseded.TrySetResult(); };
        page.RequestFinished += (_, request) => { if (IsStatus(request.Url) && superseded.Task.IsCompleted) answeredAfter.TrySetResult(); };
        await page.RouteAsync(IsStatus, async route =>
        {
            try
            {
                var response = await route.FetchAsync();
                await Task.Delay(600);
                await route.FulfillAsync(new() { Response = response });
            }
            catch (PlaywrightException)
            {
                // The page gave up on this read (a newer one replaced it).
            }
        });

        hold.Release();
        await Expect(wait).ToHaveAttributeAsync("data-status", "completed");
        await superseded.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await answeredAfter.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        // The live end comes after the job's row says completed (the worker publishes it after the finish commits), so
        // the read that replaced the one made at the live end ends the page's following.
        await Expect(page.Locator("main")).ToHaveAttributeAsync("data-job-status", "completed");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task CostsViewTotalsMatchTheUsageReport()
    {
        // LLM usage rows as the llm step records them, for two users, two workflows and three models.
        var first = await fixture.SubmitAsync("dashboard_quick", new { n = 1 }, username: "linus", cancellationToken: Ct);
        var second = await fixture.SubmitAsync("dashboard_failing", new { }, username: "grace", cancellationToken: Ct);
        await fixture.RecordUsageAsync(first, "openai/gpt-4o-mini", 1200, 300, 0.00036m);
        await fixture.RecordUsageAsync(first, "anthropic/claude-haiku-4-5", 900, 450, 0.003150m);
        await fixture.RecordUsageAsync(second, "openai/gpt-4o-mini", 5000, 800, 0.00123m);
        await fixture.RecordUsageAsync(second, "mock/lorem", 64, 64, 0m);
        // Jobs of earlier tests still running would add usage rows between the page's report and the test's.
        await WaitUntilAsync(async () =>
        {
            foreach (var status in new[] { "pending", "queued", "processing" })
            {
                var waiting = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs?status_filter={status}&limit=1", Ct);
                if ((int)waiting!["total"]! > 0)
                {
                    return false;
                }
            }

            return true;
        }, "every job to finish");

        var page = await OpenAsync("#/costs");
        await page.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync("7");
        await Expect(page.Locator("[data-role=totals]")).ToBeVisibleAsync();
        await Expect(page.Locator("main [data-query]")).ToHaveAttributeAsync("data-query", "days=7");

        var report = await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/admin/usage?days=7", Ct);
        var total = report!["total"]!;
        Assert.True((decimal)total["cost_usd"]! > 0m, "the recorded calls cost something");
        foreach (var key in new[] { "cost_usd", "calls", "input_tokens", "output_tokens", "total_tokens" })
        {
            var shown = await page.Locator($"[data-total={key}]").GetAttributeAsync("data-value");
            Assert.Equal((decimal)total[key]!, decimal.Parse(shown!, NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        foreach (var group in new[] { "by_day", "by_model", "by_workflow", "by_user" })
        {
            var rows = await page.Locator($"[data-group={group}] tbody tr").CountAsync();
            Assert.Equal(report[group]!.AsArray().Count, rows);
            await Expect(page.Locator($"[data-group={group}] [data-role=bar-chart]")).ToBeVisibleAsync();
        }

        await Expect(page.Locator("[data-group=by_user]")).ToContainTextAsync("linus");
        await Expect(page.Locator("[data-group=by_model]")).ToContainTextAsync("anthropic/claude-haiku-4-5");
        await AssertTenantRowsAsync(page, "days=7");

        // Today: from today's UTC midnight to now, the same figures as the report of that range.
        await page.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync("today");
        await Expect(page.Locator("main [data-query]")).ToHaveAttributeAsync("data-query", new Regex("^from=.*&to="));
        var today = await page.Locator("main [data-query]").GetAttributeAsync("data-query");
        var todays = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/admin/usage?{today}", Ct);
        Assert.Equal((decimal)todays!["total"]!["calls"]!, decimal.Parse((await page.Locator("[data-total=calls]").GetAttributeAsync("data-value"))!, CultureInfo.InvariantCulture));
        await AssertTenantRowsAsync(page, today!);
        await AssertNoSeriousAccessibilityViolationsAsync(page, "costs with the by-tenant table");
        AssertNoConsoleErrors();
    }

    /// <summary>The by-tenant table: a row per tenant with calls in the period, each the tenant's own report's figures.</summary>
    private async Task AssertTenantRowsAsync(IPage page, string query)
    {
        var tenants = await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/admin/tenants", Ct);
        var withCalls = 0;
        foreach (var tenant in tenants!["tenants"]!.AsArray())
        {
            var id = (string)tenant!["tenant_id"]!;
            var own = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/admin/usage?{query}&tenant_id={Uri.EscapeDataString(id)}", Ct);
            var calls = (int)own!["total"]!["calls"]!;
            var row = page.Locator("[data-group=by_tenant] tbody tr").Filter(new() { Has = page.Locator($"a[href*='tenant_id={Uri.EscapeDataString(id)}']") });
            if (calls == 0)
            {
                await Expect(row).ToHaveCountAsync(0);
                continue;
            }

            withCalls++;
            await Expect(row).ToHaveCountAsync(1);
            await Expect(row.Locator("td").Nth(1)).ToHaveTextAsync(calls.ToString("N0", CultureInfo.InvariantCulture));
        }

        Assert.True(withCalls > 0, "a tenant had calls in the period");
        await Expect(page.Locator("[data-group=by_tenant] tbody tr:not([data-key='(other tenants)'])")).ToHaveCountAsync(withCalls);
    }

    [Fact]
    public async Task CostsViewKeepsTheNewestPeriodWhenAnOlderAnswerArrivesLast()
    {
        var first = await fixture.SubmitAsync("dashboard_quick", new { n = 1 }, username: "ada", cancellationToken: Ct);
        await fixture.RecordUsageAsync(first, "openai/gpt-4o-mini", 100, 50, 0.0001m);
        var page = await OpenAsync("#/jobs");

        // Hold the answer to the first (30-day) request until the user has chosen 7 days and seen its figures.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        static bool IsThirtyDays(string url) => url.Contains("/api/v1/admin/usage?days=30", StringComparison.Ordinal);
        page.RequestFinished += (_, request) => { if (IsThirtyDays(request.Url)) settled.TrySetResult(); };
        page.RequestFailed += (_, request) => { if (IsThirtyDays(request.Url)) settled.TrySetResult(); };
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync(IsThirtyDays, async route =>
        {
            held.TrySetResult();
            await release.Task;
            try
            {
                await route.ContinueAsync();
            }
            catch (PlaywrightException)
            {
                // The page already gave up on this request (the newer choice aborted it): that is the point.
            }
        });

        await page.EvaluateAsync("location.hash = '#/costs'");
        await held.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // Jobs of earlier tests may still record calls, so the page's figure lies between two reports taken around it.
        var before = await CallsInSevenDaysAsync();
        await page.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync("7");
        await Expect(page.Locator("main [data-query]")).ToHaveAttributeAsync("data-query", "days=7");

        release.SetResult();
        await settled.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // Let any late answer reach the page's script before looking again.
        await page.EvaluateAsync("() => new Promise((resolve) => setTimeout(resolve, 250))");

        await Expect(page.Locator("main [data-query]")).ToHaveAttributeAsync("data-query", "days=7");
        await Expect(page.GetByLabel("Period", new() { Exact = true })).ToHaveValueAsync("7");
        var shown = long.Parse((await page.Locator("[data-total=calls]").GetAttributeAsync("data-value"))!, CultureInfo.InvariantCulture);
        Assert.InRange(shown, before, await CallsInSevenDaysAsync());
        AssertNoConsoleErrors();
    }

    private async Task<long> CallsInSevenDaysAsync()
    {
        var report = await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/admin/usage?days=7", Ct);
        return (long)report!["total"]!["calls"]!;
    }

    [Fact]
    public async Task WorkflowsViewShowsCatalogDiagramAndDryRun()
    {
        var page = await OpenAsync("#/workflows");
        var card = page.Locator("[data-role=catalog] li[data-workflow=dashboard_pipeline]");
        await Expect(card).ToContainTextAsync("6 steps");
        await card.GetByRole(AriaRole.Link, new() { Name = "dashboard_pipeline" }).ClickAsync();

        await Expect(page.Locator("table[data-role=steps] tbody tr")).ToHaveCountAsync(6);
        await Expect(page.Locator("table[data-role=steps]")).ToContainTextAsync("mock/lorem");
        var diagram = page.Locator("[data-role=diagram]");
        await Expect(diagram).ToHaveAttributeAsync("data-state", "drawn");
        await Expect(diagram.Locator("svg g.node")).ToHaveCountAsync(8); // start, six steps, end
        await Expect(diagram).ToContainTextAsync("Draft the note");

        await page.GetByLabel("topic (required)").FillAsync("otters");
        await page.GetByLabel("service_url (required)").FillAsync(fixture.SlowUrl);
        await page.GetByRole(AriaRole.Button, new() { Name = "Dry run (plan and cost estimate)" }).ClickAsync();
        var dryRun = page.Locator("[data-role=dry-run]");
        await Expect(dryRun).ToContainTextAsync("Valid: nothing was run or paid for.");
        await Expect(dryRun).ToContainTextAsync("Draft the note");
        await Expect(dryRun.Locator("[data-estimate=expected_cost_usd]")).ToBeVisibleAsync();
        await page.EvaluateAsync("document.querySelector('#run-title').scrollIntoView({ block: 'start' })");
        await Screenshot(page, "workflow-dry-run", "light", 1280);

        await page.GetByRole(AriaRole.Button, new() { Name = "Submit job" }).ClickAsync();
        // A hash route change is a same-document navigation: poll the URL rather than wait for a load event.
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#/jobs/[0-9a-f-]{36}$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("dashboard_pipeline");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task EveryViewRendersWholeInLightAndDarkAtEveryWidth()
    {
        var done = await fixture.SubmitAsync("dashboard_pipeline", new { topic = "a rather long topic to wrap in narrow columns", service_url = fixture.SlowUrl },
            username: "a-very-long-username-that-must-wrap@example.org", action: "generate the quarterly report for the board", cancellationToken: Ct);
        await fixture.SubmitAsync("dashboard_quick", new { n = 1 }, username: "grace", action: "refresh contacts", cancellationToken: Ct);
        var failed = await fixture.SubmitAsync("dashboard_failing", new { }, username: "linus", action: "look up the facts", cancellationToken: Ct);
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(done, Ct))["status"]);
        await fixture.WaitForTerminalAsync(failed, Ct);
        var running = await fixture.SubmitAsync("dashboard_pipeline", new { topic = "in progress", service_url = fixture.SlowUrl }, username: "linus", action: "draft mission", cancellationToken: Ct);
        await fixture.RecordUsageAsync(done, "openai/gpt-4o-mini", 2400, 600, 0.00072m);
        await fixture.RecordUsageAsync(done, "anthropic/claude-haiku-4-5", 1800, 900, 0.0063m);
        await fixture.RecordUsageAsync(running, "openrouter/meta-llama/llama-3.1-8b-instruct", 3000, 500, 0.00021m);
        // A dead-lettered delivery, so the Webhooks view shows its table (and its job links) to the checks.
        const string receiver = "every-view-refusing";
        var deadLettered = await DeadLetteredJobAsync(receiver);
        // A schedule (yearly: no tick during the test), so the Schedules view shows its table to the checks.
        var schedule = await DashboardSchedulesBrowserTests.CreateScheduleAsync(fixture.Admin, "every-view yearly", "0 0 1 1 *", Ct);

        var views = new (string Name, string Hash, string Ready)[]
        {
            ("jobs", "#/jobs", "table[data-role=jobs] tbody tr[data-job-id]"),
            ("job-detail", $"#/jobs/{done}", "main[data-job-status=completed] li[data-step-id=summarize]"),
            ("queue", "#/queue", "[data-role=queue-stats]"),
            ("providers", "#/providers", "[data-role=pause-form]"),
            ("costs", "#/costs", "[data-role=totals]"),
            ("activity", "#/activity", "[data-role=activity-totals]"),
            ("webhooks", "#/webhooks", $"table[data-role=dead-letters] a[href='#/jobs/{deadLettered}']"),
            ("workflows", "#/workflows", "main h1"),
            ("workflow", "#/workflows/dashboard_pipeline", "[data-role=diagram][data-state=drawn]"),
            ("waiting", "#/waiting", "main h1"),
            ("schedules", "#/schedules", $"tr[data-schedule-id='{schedule}']"),
            // A status-count chip while active (its filter chosen): the chip's badge stays readable on the accent.
            ("jobs-failed", "#/jobs?status_filter=failed", "[data-role=status-counts] a[data-count-status=failed][aria-current=true]"),
            ("job-detail-failed", $"#/jobs/{failed}", "main[data-job-status=failed] [data-role=error]"),
        };

        foreach (var scheme in new[] { ColorScheme.Light, ColorScheme.Dark })
        {
            var schemeName = scheme == ColorScheme.Light ? "light" : "dark";
            foreach (var width in new[] { 1920, 1280, 1024, 375 })
            {
                var page = await OpenAsync("#/jobs", scheme: scheme, width: width);
                await Expect(page.Locator($"tr[data-job-id='{running}']")).ToBeVisibleAsync();
                if (width == 1280)
                {
                    await AssertEveryNavigationViewIsCheckedAsync(page, views.Select(v => v.Name));
                }

                foreach (var (name, hash, ready) in views)
                {
                    await page.EvaluateAsync($"location.hash = '{hash}'");
                    await Expect(page.Locator(ready).First).ToBeVisibleAsync();
                    await Screenshot(page, name, schemeName, width);
                    var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
                    Assert.True(overflow <= 0, $"{name} at {width}px {schemeName} scrolls sideways by {overflow}px");
                    // From 1024 px up no table cell, table box or chart label is cut off (on phones tables stack).
                    if (width >= 1024)
                    {
                        var clipped = await page.EvaluateAsync<string[]>(ClippedScript);
                        Assert.True(clipped.Length == 0, $"{name} at {width}px {schemeName} clips: {string.Join(" | ", clipped)}");
                        var squeezed = await page.EvaluateAsync<string[]>(SqueezedScript);
                        Assert.True(squeezed.Length == 0, $"{name} at {width}px {schemeName} has columns too narrow for their figures: {string.Join(" | ", squeezed)}");
                    }

                    if (name == "workflow")
                    {
                        await AssertDiagramContrastAsync(page, $"{width}px {schemeName}", dark: scheme == ColorScheme.Dark);
                    }

                    // axe-core on every view in both themes (once per theme: contrast and names do not change with width).
                    if (width == 1280)
                    {
                        await AssertNoSeriousAccessibilityViolationsAsync(page, $"{name} {schemeName}");
                    }
                }
            }
        }

        var login = await OpenAsync("#/jobs", signIn: false, scheme: ColorScheme.Light, width: 1280);
        await Expect(login.GetByLabel("Admin API key")).ToBeVisibleAsync();
        await Screenshot(login, "login", "light", 1280);
        await AssertNoSeriousAccessibilityViolationsAsync(login, "login light");
        var darkLogin = await OpenAsync("#/jobs", signIn: false, scheme: ColorScheme.Dark, width: 1280);
        await Expect(darkLogin.GetByLabel("Admin API key")).ToBeVisibleAsync();
        await AssertNoSeriousAccessibilityViolationsAsync(darkLogin, "login dark");

        // The dead letter is delivered now, so the views of the other tests start from an empty list.
        fixture.AcceptingReceivers[receiver] = true;
        Assert.True((await fixture.Admin.PostAsync($"api/v1/admin/webhooks/{deadLettered}/replay", null, Ct)).IsSuccessStatusCode);
        await WaitUntilAsync(async () => !(await DeadLetterJobIdsAsync()).Contains(deadLettered), "the replayed dead letter to leave the list");
        AssertNoConsoleErrors();
    }

    /// <summary>
    /// axe-core (WCAG 2.x A/AA rules and best practices) finds no serious or critical violation on the page as it is
    /// now; the message names each rule and the first elements it flagged.
    /// </summary>
    internal static async Task AssertNoSeriousAccessibilityViolationsAsync(IPage page, string context)
    {
        var result = await page.RunAxe();
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"{context}: axe found " + string.Join(" | ", serious.Select(v =>
            $"{v.Id} ({v.Impact}, {v.Nodes.Length} elements): {string.Join("; ", v.Nodes.Take(3).Select(n => n.Html))}")));
    }

    /// <summary>
    /// Every view the navigation leads to is in the list the accessibility and layout checks walk, so a view added
    /// later is checked too (its name, as the navigation's <c>data-view</c>, must be listed).
    /// </summary>
    private static async Task AssertEveryNavigationViewIsCheckedAsync(IPage page, IEnumerable<string> checkedViews)
    {
        var navigation = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#nav a[data-view]')].map((a) => a.dataset.view)");
        Assert.NotEmpty(navigation);
        var missing = navigation.Except(checkedViews).ToList();
        Assert.True(missing.Count == 0, $"Views the navigation leads to that the accessibility check does not visit: {string.Join(", ", missing)}");
    }

    /// <summary>
    /// Every visible table cell and chart label whose content is wider than its box (scrollWidth above clientWidth),
    /// every table box that scrolls, and every SVG chart text that sticks out of its chart, described for the message.
    /// </summary>
    // A column too narrow for what it holds: a time or a figure in a table broken over lines (the review found the jobs
    // table's Created column three lines tall at 1024 px).
    private const string SqueezedScript = """
        () => {
          // The lines its text is laid out on: the distinct tops of its non-blank text nodes' boxes.
          const lines = (el) => {
            const tops = new Set();
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              if (!node.textContent.trim()) continue;
              const range = document.createRange(); range.selectNodeContents(node);
              for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top / 4));
            }
            return tops.size;
          };
          return [...document.querySelectorAll('main td time, main td.num')]
            .filter((el) => el.getClientRects().length > 0 && !el.closest('details:not([open])') && lines(el) > 1)
            .map((el) => `${el.closest('table')?.dataset.role ?? 'table'} ${el.closest('td')?.dataset.label ?? ''}: "${el.textContent.trim().slice(0, 30)}" on ${lines(el)} lines`);
        }
        """;

    private const string ClippedScript = """
        () => {
          const where = (el) => `${el.closest('[data-group]')?.dataset.group ?? el.closest('table')?.dataset.role ?? el.closest('section')?.getAttribute('aria-labelledby') ?? el.tagName}: "${el.textContent.trim().slice(0, 40)}" (${el.scrollWidth} > ${el.clientWidth})`;
          const visible = (el) => el.getClientRects().length > 0 && !el.closest('details:not([open])');
          const clipped = [...document.querySelectorAll('main td, main th, main [data-role=chart-label], main .table-wrap')]
            .filter((el) => visible(el) && el.scrollWidth - el.clientWidth > 1).map(where);
          for (const text of document.querySelectorAll('main svg.chart text')) {
            const view = text.ownerSVGElement.viewBox.baseVal;
            const box = text.getBBox();
            if (box.x < view.x - 1 || box.x + box.width > view.x + view.width + 1) clipped.push(`chart text "${text.textContent}"`);
          }
          return clipped;
        }
        """;

    /// <summary>
    /// The workflow diagram in the page's scheme: arrows (lines and heads) stand out from the card by at least 3:1,
    /// node labels from their boxes by 4.5:1 (WCAG), and in dark mode the boxes are dark (no light-theme boxes).
    /// </summary>
    private static async Task AssertDiagramContrastAsync(IPage page, string context, bool dark)
    {
        var measured = JsonNode.Parse(await page.EvaluateAsync<string>("""
            () => {
              const rgb = (c) => { const m = (c || '').match(/rgba?\(([^)]+)\)/); return m ? m[1].split(',').map(Number) : null; };
              const lum = (c) => { const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
              const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
              const svg = document.querySelector('[data-role=diagram] svg.diagram');
              const card = getComputedStyle(svg.closest('.card')).backgroundColor;
              const lines = [...svg.querySelectorAll('.edgePaths path, path.flowchart-link')].map((p) => getComputedStyle(p).stroke).filter(rgb);
              const heads = [...svg.querySelectorAll('marker path')].map((p) => getComputedStyle(p).fill).filter(rgb);
              const nodes = [...svg.querySelectorAll('g.node')].map((n) => {
                const shape = n.querySelector('rect, polygon, circle, ellipse, path');
                const label = n.querySelector('.nodeLabel, .label span, text') ?? n;
                return { fill: getComputedStyle(shape).fill, text: getComputedStyle(label).color || getComputedStyle(label).fill };
              }).filter((n) => rgb(n.fill) && rgb(n.text) && rgb(n.fill)[3] !== 0);
              return JSON.stringify({
                lines: lines.length, heads: heads.length, nodes: nodes.length,
                line: Math.min(...lines.map((c) => ratio(c, card))), head: Math.min(...heads.map((c) => ratio(c, card))),
                label: Math.min(...nodes.map((n) => ratio(n.text, n.fill))), brightestBox: Math.max(...nodes.map((n) => lum(n.fill))),
              });
            }
            """))!;
        Assert.True((int)measured["lines"]! > 0 && (int)measured["heads"]! > 0 && (int)measured["nodes"]! > 0, $"{context}: nothing measured: {measured.ToJsonString()}");
        Assert.True((double)measured["line"]! >= 3, $"{context}: arrows are hard to see: {measured.ToJsonString()}");
        Assert.True((double)measured["head"]! >= 3, $"{context}: arrow heads are hard to see: {measured.ToJsonString()}");
        Assert.True((double)measured["label"]! >= 4.5, $"{context}: node labels lack contrast: {measured.ToJsonString()}");
        if (dark)
        {
            Assert.True((double)measured["brightestBox"]! < 0.2, $"{context}: the diagram keeps light boxes in dark mode: {measured.ToJsonString()}");
        }
    }

    [Fact]
    public async Task WebhooksViewListsADeadLetterAndReplaysItToAReceiverThatNowAccepts()
    {
        var receiver = $"r{Guid.NewGuid():N}";
        var jobId = await DeadLetteredJobAsync(receiver);

        foreach (var width in new[] { 1024, 375 })
        {
            var page = await OpenAsync("#/webhooks", width: width);
            var row = page.Locator($"table[data-role=dead-letters] tbody tr:has(a[href='#/jobs/{jobId}'])");
            await Expect(row).ToBeVisibleAsync();
            await Expect(row).ToContainTextAsync("workflow.completed");
            await Expect(row).ToContainTextAsync(fixture.WebhookUrl(receiver));
            await Expect(row).ToContainTextAsync("503");
            await Expect(row.Locator("td[data-label=Attempts]")).ToHaveTextAsync("2");
            // The same part of the id as the jobs list (the last characters; the first ones are its creation time).
            await Expect(row.Locator("td[data-label=Job] a")).ToHaveTextAsync(jobId[^8..]);
            await Screenshot(page, "webhooks", "light", width);
            var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
            Assert.True(overflow <= 0, $"webhooks at {width}px scrolls sideways by {overflow}px");
        }

        fixture.AcceptingReceivers[receiver] = true;
        var webhooks = await OpenAsync("#/webhooks", width: 1280);
        var listed = webhooks.Locator($"table[data-role=dead-letters] tbody tr:has(a[href='#/jobs/{jobId}'])");
        var replay = listed.Locator("button[data-action=replay]");
        // Two-step confirmation: the first press only asks.
        await replay.ClickAsync();
        await Expect(replay).ToContainTextAsync("Press again");
        Assert.False(fixture.DeliveredWebhooks.ContainsKey(receiver));
        await replay.ClickAsync();
        await Expect(listed).ToHaveCountAsync(0);
        await Expect(webhooks.Locator("[data-role=dead-letters-empty]")).ToBeVisibleAsync();

        await WaitUntilAsync(() => Task.FromResult(fixture.DeliveredWebhooks.TryGetValue(receiver, out var ids) && !ids.IsEmpty), "the replayed delivery");
        // The receiver counts the request when it arrives; the dispatcher records "delivered" only after the response
        // returns, so under load the attempt can still read "pending" for a moment.
        JsonNode last = null!;
        await WaitUntilAsync(async () =>
        {
            var attempts = await fixture.Admin.GetFromJsonAsync<JsonArray>($"api/v1/admin/webhooks/{jobId}", Ct);
            last = attempts!.Last()!;
            return (string?)last["state"] != "pending";
        }, "the replayed attempt's outcome to be recorded");
        Assert.Equal("delivered", (string?)last["state"]);
        Assert.Equal(3, (int?)last["attempt_number"]);
        Assert.Equal((string?)last["event_id"], Assert.Single(fixture.DeliveredWebhooks[receiver]));
        Assert.DoesNotContain(jobId, await DeadLetterJobIdsAsync());

        // The job that has a webhook offers a replay on its detail page, whose delivery history then shows the new attempt.
        await webhooks.EvaluateAsync($"location.hash = '#/jobs/{jobId}'");
        var deliveries = webhooks.Locator("section[aria-labelledby=webhook-title]");
        await Expect(deliveries).ToContainTextAsync("3 attempts");
        await webhooks.Locator("button[data-action=replay-webhook]").ClickAsync();
        await Expect(deliveries).ToContainTextAsync("4 attempts");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task ReplayAllShownReplaysEveryListedDeadLetter()
    {
        var receivers = new[] { $"r{Guid.NewGuid():N}", $"r{Guid.NewGuid():N}" };
        var jobIds = await Task.WhenAll(receivers.Select(DeadLetteredJobAsync));
        foreach (var receiver in receivers)
        {
            fixture.AcceptingReceivers[receiver] = true;
        }

        var page = await OpenAsync("#/webhooks");
        foreach (var jobId in jobIds)
        {
            await Expect(page.Locator($"table[data-role=dead-letters] tbody tr:has(a[href='#/jobs/{jobId}'])")).ToBeVisibleAsync();
        }

        var replayAll = page.Locator("button[data-action=replay-all]");
        await replayAll.ClickAsync();
        await Expect(replayAll).ToContainTextAsync("Press again");
        await replayAll.ClickAsync();
        await Expect(page.Locator("[data-role=dead-letters-empty]")).ToBeVisibleAsync();
        await Expect(replayAll).ToBeDisabledAsync();
        foreach (var receiver in receivers)
        {
            await WaitUntilAsync(() => Task.FromResult(fixture.DeliveredWebhooks.TryGetValue(receiver, out var ids) && ids.Count == 1), $"the replayed delivery to {receiver}");
        }

        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task AJobWithoutAWebhookOffersNoWebhookReplay()
    {
        var jobId = await fixture.SubmitAsync("dashboard_quick", new { n = 2 }, action: "no webhook", cancellationToken: Ct);
        await fixture.WaitForTerminalAsync(jobId, Ct);

        var page = await OpenAsync($"#/jobs/{jobId}");
        await Expect(page.Locator("main[data-view=jobs] section[aria-labelledby=webhook-title]")).ToContainTextAsync("No webhook deliveries for this job.");
        await Expect(page.Locator("button[data-action=copy-curl]")).ToBeVisibleAsync();
        await Expect(page.Locator("button[data-action=replay-webhook]")).ToHaveCountAsync(0);
        AssertNoConsoleErrors();
    }

    /// <summary>A finished job whose completed event the refusing receiver turned away until it was dead-lettered.</summary>
    private async Task<string> DeadLetteredJobAsync(string receiver)
    {
        var response = await fixture.Admin.PostAsJsonAsync("api/v1/workflow", new
        {
            workflow_name = "dashboard_quick",
            input_data = new { n = 1 },
            username = "hook",
            user_id = "hook",
            action = "webhook dead letter",
            webhook_url = fixture.WebhookUrl(receiver),
            webhook_secret = "dashboard-receiver-secret",
        }, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        var jobId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!;
        await fixture.WaitForTerminalAsync(jobId, Ct);
        // The receiver answers 503 twice (first attempt and the one retry), then the event is dead-lettered.
        await WaitUntilAsync(async () => (await DeadLetterJobIdsAsync()).Contains(jobId), "the event to be dead-lettered");
        return jobId;
    }

    private async Task<List<string>> DeadLetterJobIdsAsync()
    {
        var deadLetters = await fixture.Admin.GetFromJsonAsync<JsonArray>("api/v1/admin/webhooks/dead-letters?limit=500", Ct);
        return [.. deadLetters!.Select(d => (string)d!["job_id"]!)];
    }

    /// <summary>Waits for a condition of the background webhook dispatcher, with a generous deadline for a loaded machine.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(100, Ct);
        }
    }

    private async Task<IPage> OpenAsync(string hash, bool signIn = true, ColorScheme scheme = ColorScheme.Light, int width = 1280)
    {
        var page = await NewPageAsync(scheme, width, width < 600 ? 812 : 800);

        if (signIn)
        {
            await SignInAsync(page, hash);
        }
        else
        {
            await page.GotoAsync("dashboard/" + hash);
        }

        return page;
    }

    /// <summary>
    /// The screenshots the README shows. They are copied into docs/screenshots only when UPDATE_SCREENSHOTS=1, so an
    /// ordinary test run never rewrites tracked files.
    /// </summary>
    private static readonly HashSet<string> ForDocs =
    [
        "jobs-light-1280", "jobs-dark-1280", "jobs-light-375", "jobs-light-1024", "job-detail-light-1280", "job-detail-dark-375", "workflow-dark-1280",
        "costs-light-1024", "activity-dark-1024",
        "job-detail-live-light-1280", "job-detail-failed-light-1280", "job-detail-cancelled-light-1280", "queue-light-1280", "costs-light-1280",
        "costs-dark-1280", "workflow-light-1280", "workflow-dry-run-light-1280", "login-light-1280",
    ];

    private static async Task Screenshot(IPage page, string view, string scheme, int width)
    {
        var name = $"{view}-{scheme}-{width}";
        if (!DashboardFixture.TakesScreenshot(ForDocs.Contains(name)))
        {
            return;
        }

        var path = Path.Combine(DashboardFixture.ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled });
        if (ForDocs.Contains(name) && DashboardFixture.UpdatesDocsScreenshots)
        {
            var docs = Path.Combine(RepositoryPaths.Root, "docs", "screenshots");
            Directory.CreateDirectory(docs);
            File.Copy(path, Path.Combine(docs, name + ".png"), overwrite: true);
        }
    }

}
