using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using Npgsql;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The dashboard's lists and analytics in headless Chromium against the real API and Worker on real Postgres and
/// Redis: sorting by column headers, bulk cancel/retry/delete with a per-job summary, drill-down from a cost figure to
/// its jobs, the activity charts and the tenant filter (layout at every width: DashboardBrowserTests). Every figure is compared
/// with what the API or the database holds, never with numbers written into the test.
/// </summary>
[SystemTest]
public sealed class DashboardListsBrowserTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>, IAsyncLifetime
{
    private static readonly string[] SortColumns = ["status", "workflow_name", "username", "priority", "created_at", "duration_ms", "total_tokens", "cost_usd"];

    private readonly List<string> _consoleErrors = [];
    private readonly List<IBrowserContext> _contexts = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        SetDefaultExpectTimeout(20_000);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task ColumnHeadersSortTheListAsTheApiDoes()
    {
        var username = $"sorter{Guid.NewGuid():N}"[..16];
        var ids = new List<string>();
        foreach (var (workflow, priority) in new[] { ("dashboard_quick", 3), ("dashboard_failing", 0), ("dashboard_quick", 7), ("dashboard_failing", 3) })
        {
            ids.Add(await SubmitAsync(fixture.Admin, workflow, username, priority));
        }

        foreach (var id in ids)
        {
            await fixture.WaitForTerminalAsync(id, Ct);
        }

        var page = await OpenJobsSearchingAsync(username);
        var table = page.Locator("table[data-role=jobs]");
        await Expect(table).ToHaveAttributeAsync("data-query", $"limit_results=25&search={username}");
        await Expect(table.Locator("th[data-sort=created_at]")).ToHaveAttributeAsync("aria-sort", "descending");
        await Expect(table.Locator("th[aria-sort=none]")).ToHaveCountAsync(SortColumns.Length - 1);

        foreach (var column in SortColumns)
        {
            var header = table.Locator($"th[data-sort={column}]");
            await header.Locator("button").ClickAsync();
            var first = await header.GetAttributeAsync("aria-sort");
            await AssertRowsMatchApiAsync(page, column, first == "ascending" ? "asc" : "desc");

            // The second click reverses the order; only the sorted column announces a sort.
            await header.Locator("button").ClickAsync();
            await Expect(header).ToHaveAttributeAsync("aria-sort", first == "ascending" ? "descending" : "ascending");
            await AssertRowsMatchApiAsync(page, column, first == "ascending" ? "desc" : "asc");
            await Expect(table.Locator("th[aria-sort=none]")).ToHaveCountAsync(SortColumns.Length - 1);
        }

        // Text columns start ascending, numbers and times descending.
        await table.Locator("th[data-sort=priority] button").ClickAsync();
        await Expect(table.Locator("th[data-sort=priority]")).ToHaveAttributeAsync("aria-sort", "descending");
        await AssertRowsMatchApiAsync(page, "priority", "desc");
        var priorities = await table.Locator("tbody tr[data-job-id] td[data-label=Priority]").AllInnerTextsAsync();
        Assert.Equal(priorities.Select(int.Parse).OrderDescending(), priorities.Select(int.Parse));
        await Screenshot(page, "jobs-sorted", "light", 1280);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task PastTheCountLimitTheSummarySaysAThousandPlusJobs()
    {
        // More matches than the API counts (total_exact false): old jobs of their own tenant, found by their username.
        var username = $"many{Guid.NewGuid():N}"[..14];
        await InsertFinishedJobsAsync(username, "count-limit-tenant", LlmWorkflow.Api.Contracts.JobListCount.ExactUpTo + 5, perSecond: 1);

        var page = await OpenJobsSearchingAsync(username);
        var table = page.Locator("table[data-role=jobs]");
        await Expect(table).ToHaveAttributeAsync("data-query", $"limit_results=25&search={username}");
        var api = await fixture.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?limit_results=25&search={username}", Ct);
        Assert.False((bool)api!["total_exact"]!);
        // The count stops one past its limit: the limit is what the summary promises, with a "+".
        var counted = ((int)api["total"]! - 1).ToString("N0", CultureInfo.InvariantCulture);
        await Expect(page.Locator("[data-role=summary]")).ToHaveTextAsync($"Showing 1–25 of {counted}+ jobs");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Next" })).ToBeEnabledAsync();
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task NextAndPreviousPageByTheApisCursorInTheCreatedOrder()
    {
        // 60 jobs, five per instant (ties broken by id): pages of 25 go by cursor and match the API's offset pages.
        var username = $"pager{Guid.NewGuid():N}"[..14];
        await InsertFinishedJobsAsync(username, "pager-tenant", 60, perSecond: 5);

        var page = await OpenJobsSearchingAsync(username);
        var table = page.Locator("table[data-role=jobs]");
        var summary = page.Locator("[data-role=summary]");
        var next = page.GetByRole(AriaRole.Button, new() { Name = "Next" });
        var previous = page.GetByRole(AriaRole.Button, new() { Name = "Previous" });

        async Task ExpectPageAsync(int offset, int count, bool byCursor)
        {
            await Expect(summary).ToHaveTextAsync($"Showing {offset + 1}–{offset + count} of 60 jobs");
            var query = await table.GetAttributeAsync("data-query");
            Assert.Equal(byCursor, query!.Contains("cursor=", StringComparison.Ordinal));
            Assert.DoesNotContain("offset=", query, StringComparison.Ordinal);
            var expected = (await fixture.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?limit_results=25&search={username}&offset={offset}", Ct))!["jobs"]!
                .AsArray().Select(j => (string)j!["job_id"]!).ToArray();
            var shown = await table.Locator("tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)");
            Assert.Equal(expected, shown);
        }

        await ExpectPageAsync(0, 25, byCursor: false);
        await next.ClickAsync();
        await ExpectPageAsync(25, 25, byCursor: true);
        await next.ClickAsync();
        await ExpectPageAsync(50, 10, byCursor: true);
        await Expect(next).ToBeDisabledAsync();
        await previous.ClickAsync();
        await ExpectPageAsync(25, 25, byCursor: true);
        await previous.ClickAsync();
        await ExpectPageAsync(0, 25, byCursor: false);
        await Expect(previous).ToBeDisabledAsync();
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task BulkCancelRetryAndDeleteReportWhatEachJobDid()
    {
        // The running jobs call an endpoint that never answers, so they are still running whenever the cancel lands
        // (however loaded the machine); the finished one is refused.
        await using var hold = await HoldServer.StartAsync();
        var username = $"bulk{Guid.NewGuid():N}"[..14];
        var page = await OpenJobsSearchingAsync(username);

        var running = new[]
        {
            await fixture.SubmitAsync("dashboard_cancellable", new { service_url = hold.Url, wait_ms = "0" }, username: username, cancellationToken: Ct),
            await fixture.SubmitAsync("dashboard_cancellable", new { service_url = hold.Url, wait_ms = "0" }, username: username, cancellationToken: Ct),
        };
        var finished = await fixture.SubmitAsync("dashboard_quick", new { n = 1 }, username: username, cancellationToken: Ct);
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(finished, Ct))["status"]);
        await WaitForAsync(() => Task.FromResult(hold.Waiting >= 2), "both running jobs calling the held endpoint");
        foreach (var id in running)
        {
            Assert.Equal("processing", await StatusAsync(id));
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        var rows = page.Locator("table[data-role=jobs] tbody tr[data-job-id]");
        await Expect(rows).ToHaveCountAsync(3);
        await Expect(page.Locator("[data-bulk=cancel]")).ToBeDisabledAsync();

        // Cancel: the running jobs stop, the finished one is refused with the API's reason.
        await page.Locator("[data-role=select-all]").CheckAsync();
        await Expect(page.Locator("[data-role=selected-count]")).ToHaveTextAsync("3 selected");
        await page.Locator("[data-bulk=cancel]").ClickAsync();
        var dialog = page.Locator("dialog[open]");
        await Expect(dialog).ToContainTextAsync("Cancel 3 jobs?");
        await dialog.Locator("[data-confirm=cancel]").ClickAsync();
        var summary = page.Locator("[data-role=bulk-result] .bulk-summary[data-action=cancel]");
        await Expect(summary).ToHaveAttributeAsync("data-succeeded", "2");
        await Expect(summary).ToHaveAttributeAsync("data-refused", "1");
        await Expect(summary.Locator($"tr[data-job-id='{finished}']")).ToHaveAttributeAsync("data-outcome", "refused");
        await Expect(summary.Locator($"tr[data-job-id='{finished}'] td[data-label=Detail]")).Not.ToBeEmptyAsync();
        foreach (var id in running)
        {
            await Expect(summary.Locator($"tr[data-job-id='{id}']")).ToHaveAttributeAsync("data-ok", "true");
            Assert.Equal("cancelled", (string?)(await fixture.WaitForTerminalAsync(id, Ct))["status"]);
        }

        // Retry: the cancelled jobs are queued again, the completed one is refused.
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        await Expect(page.Locator($"table[data-role=jobs] tr[data-job-id='{running[0]}']")).ToHaveAttributeAsync("data-status", "cancelled");
        await Expect(page.Locator($"table[data-role=jobs] tr[data-job-id='{running[1]}']")).ToHaveAttributeAsync("data-status", "cancelled");
        foreach (var id in new[] { running[0], running[1], finished })
        {
            await page.Locator($"table[data-role=jobs] tr[data-job-id='{id}'] input[data-action=select]").CheckAsync();
        }

        // The list's reload after the retry is held: the emptied selection must show at once (select-all unchecked, the
        // bulk buttons disabled), or a click on a still-checked select-all before the reload answers selects nothing.
        var reload = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        static bool IsJobList(string url) => url.Contains("/api/v1/jobs?", StringComparison.Ordinal);
        await page.RouteAsync(IsJobList, async route =>
        {
            await reload.Task;
            try
            {
                await route.ContinueAsync();
            }
            catch (PlaywrightException)
            {
                // The page gave up on this read (a newer one replaced it).
            }
        });
        try
        {
            await page.Locator("[data-bulk=retry]").ClickAsync();
            await Expect(dialog).ToContainTextAsync("Retry 3 jobs?");
            await dialog.Locator("[data-confirm=retry]").ClickAsync();
            summary = page.Locator("[data-role=bulk-result] .bulk-summary[data-action=retry]");
            await Expect(summary).ToHaveAttributeAsync("data-succeeded", "2");
            await Expect(page.Locator("[data-role=select-all]")).Not.ToBeCheckedAsync();
            await Expect(page.Locator("[data-role=selected-count]")).ToHaveTextAsync("0 selected");
            await Expect(page.Locator("[data-bulk=delete]")).ToBeDisabledAsync();
        }
        finally
        {
            reload.TrySetResult();
            await page.UnrouteAsync(IsJobList);
        }

        await Expect(summary.Locator($"tr[data-job-id='{finished}']")).ToHaveAttributeAsync("data-outcome", "refused");
        foreach (var id in running)
        {
            await Expect(summary.Locator($"tr[data-job-id='{id}']")).ToHaveAttributeAsync("data-outcome", "queued");
            Assert.Equal(1, (int)(await ScalarAsync("SELECT retry_count FROM llm_workflow_jobs WHERE id = @id", ("id", Guid.Parse(id))))!);
        }

        await Screenshot(page, "jobs-bulk", "light", 1280);

        // Delete: all three go, the running retries included; going back keeps them.
        await page.Locator("[data-role=select-all]").CheckAsync();
        await page.Locator("[data-bulk=delete]").ClickAsync();
        await Expect(dialog).ToContainTextAsync("Delete 3 jobs?");
        await dialog.Locator("[data-confirm=delete]").ClickAsync();
        summary = page.Locator("[data-role=bulk-result] .bulk-summary[data-action=delete]");
        await Expect(summary).ToHaveAttributeAsync("data-succeeded", "3");
        await Expect(summary).ToHaveAttributeAsync("data-refused", "0");
        await Expect(rows).ToHaveCountAsync(0);
        Assert.Equal(0L, (long)(await ScalarAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = ANY(@ids)",
            ("ids", running.Append(finished).Select(Guid.Parse).ToArray())))!);

        // The browser logs each refused request; exactly the two refusals above, nothing else.
        AssertNoConsoleErrors($"/api/v1/workflow/{finished}", $"/api/v1/jobs/{finished}/retry");
    }

    [Fact]
    public async Task EveryCostFigureLinksToTheJobsBehindIt()
    {
        var userId = $"uid-{Guid.NewGuid():N}"[..16];
        var model = $"test/drill-{Guid.NewGuid():N}"[..22];
        var first = await fixture.SubmitAsync("dashboard_quick", new { n = 1 }, username: "Grace Hopper", userId: userId, cancellationToken: Ct);
        var second = await fixture.SubmitAsync("dashboard_quick", new { n = 2 }, username: "Grace Hopper", userId: userId, cancellationToken: Ct);
        var other = await fixture.SubmitAsync("dashboard_failing", new { }, username: "linus", cancellationToken: Ct);
        await fixture.RecordUsageAsync(first, model, 1000, 200, 0.0042m);
        await fixture.RecordUsageAsync(second, "openai/gpt-4o-mini", 500, 100, 0.0003m);
        await fixture.RecordUsageAsync(other, model, 100, 20, 0.0011m);

        var page = await OpenAsync("#/costs");
        await page.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync("7");
        await Expect(page.Locator("main [data-query]")).ToHaveAttributeAsync("data-query", "days=7");

        // By user names the user, with the id beneath.
        var userRow = page.Locator($"[data-group=by_user] tr[data-key='{userId}']");
        await Expect(userRow.Locator("a[data-role=jobs-link]").First).ToHaveTextAsync("Grace Hopper");
        await Expect(page.Locator("[data-group=by_user]")).Not.ToContainTextAsync("(none)");

        var day = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        foreach (var (group, key, sql) in new (string, string, string)[]
                 {
                     ("by_model", model, "u.model = @key"),
                     ("by_user", userId, "j.user_id = @key"),
                     ("by_workflow", "dashboard_quick", "j.workflow_name = @key"),
                     ("by_day", day, "true"),
                 })
        {
            await page.EvaluateAsync("location.hash = '#/costs'");
            var row = page.Locator($"[data-group={group}] tr[data-key='{key}']");
            var cost = await row.Locator("td[data-label=Cost]").InnerTextAsync();
            await row.Locator("td[data-label=Cost] a[data-role=jobs-link]").ClickAsync();

            var table = page.Locator("table[data-role=jobs]");
            await Expect(table).ToHaveAttributeAsync("data-query", new System.Text.RegularExpressions.Regex("usage_from="));
            await Expect(page.Locator("[data-role=drill-down] .chip").First).ToBeVisibleAsync();
            var query = System.Web.HttpUtility.ParseQueryString((await table.GetAttributeAsync("data-query"))!);
            var from = DateTimeOffset.Parse(query["usage_from"]!, CultureInfo.InvariantCulture);
            var to = DateTimeOffset.Parse(query["usage_to"]!, CultureInfo.InvariantCulture);
            var expected = await QueryIdsAsync(
                "SELECT DISTINCT j.id FROM llm_workflow_jobs j JOIN llm_provider_usage u ON u.job_id = j.id " +
                $"WHERE u.created_at >= @from AND u.created_at < @to AND {sql}", ("from", from), ("to", to), ("key", key));
            var shown = (await page.Locator("table[data-role=jobs] tbody tr[data-job-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)"))
                .Select(Guid.Parse).ToList();
            Assert.True(expected.Order().SequenceEqual(shown.Order()), $"{group} {key} ({cost}): expected {string.Join(",", expected)}, shown {string.Join(",", shown)}");
            Assert.NotEmpty(shown);

            // The jobs' cost adds up to the figure when every call of those jobs is in the period (true for the model row).
            if (group == "by_model")
            {
                Assert.Equal(new[] { Guid.Parse(first), Guid.Parse(other) }.Order(), shown.Order());
                await Screenshot(page, "jobs-drilldown", "light", 1280);
            }
        }

        // Clearing the drill-down shows the whole list again.
        await page.Locator("[data-action=clear-drill]").ClickAsync();
        await Expect(page.Locator("table[data-role=jobs]")).ToHaveAttributeAsync("data-query", "limit_results=25");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task ActivityChartsShowWhatPostgresHoldsForTheChosenTenant()
    {
        // Jobs of the caller key's tenant ("tests"), which only this test uses, so its figures are exactly these jobs.
        using var caller = fixture.Api.CreateClient(admin: false);
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add(await SubmitAsync(caller, i % 2 == 0 ? "dashboard_quick" : "dashboard_failing", "activity", 0));
        }

        ids.Add(await SubmitAsync(caller, "dashboard_quick", "activity", 0));
        foreach (var id in ids)
        {
            await JobPolling.WaitForTerminalAsync(caller, $"api/v1/status/{id}", TimeSpan.FromSeconds(90), Ct);
        }

        var page = await OpenAsync("#/activity");
        await Expect(page.Locator("[data-role=activity-totals]")).ToBeVisibleAsync();
        await page.GetByLabel("Tenant", new() { Exact = true }).SelectOptionAsync("tests");
        var content = page.Locator("main [data-query]");
        await Expect(content).ToHaveAttributeAsync("data-query", new System.Text.RegularExpressions.Regex("tenant_id=tests$"));
        var query = System.Web.HttpUtility.ParseQueryString((await content.GetAttributeAsync("data-query"))!);
        var from = DateTimeOffset.Parse(query["from"]!, CultureInfo.InvariantCulture);
        var to = DateTimeOffset.Parse(query["to"]!, CultureInfo.InvariantCulture);
        var jobs = await ReadJobsAsync("tests");
        Assert.True(jobs.Count >= ids.Count);

        // Totals and every bucket of the throughput table against the jobs table.
        static DateTimeOffset Minute(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);
        var submitted = jobs.Where(j => j.Created >= from && j.Created < to).ToList();
        var done = jobs.Where(j => j.Completed is { } c && c >= from && c < to).ToList();
        Assert.Equal(submitted.Count.ToString(CultureInfo.InvariantCulture), await page.Locator("[data-total=submitted]").GetAttributeAsync("data-value"));
        foreach (var status in new[] { "completed", "failed", "cancelled" })
        {
            Assert.Equal(done.Count(j => j.Status == status).ToString(CultureInfo.InvariantCulture), await page.Locator($"[data-total={status}]").GetAttributeAsync("data-value"));
        }

        Assert.True(done.Count(j => j.Status == "failed") > 0 && done.Count(j => j.Status == "completed") > 0);
        var bucketRows = page.Locator("table[data-role=throughput-table] tbody tr");
        var buckets = submitted.Select(j => Minute(j.Created)).Concat(done.Select(j => Minute(j.Completed!.Value))).Distinct().ToList();
        await Expect(bucketRows).ToHaveCountAsync(buckets.Count);
        foreach (var bucket in buckets)
        {
            var row = page.Locator($"table[data-role=throughput-table] tr[data-bucket='{Iso(bucket)}']");
            Assert.Equal(submitted.Count(j => Minute(j.Created) == bucket).ToString(CultureInfo.InvariantCulture), await row.Locator("[data-metric=submitted]").TextContentAsync());
            foreach (var status in new[] { "completed", "failed", "cancelled" })
            {
                Assert.Equal(done.Count(j => j.Status == status && Minute(j.Completed!.Value) == bucket).ToString(CultureInfo.InvariantCulture),
                    await row.Locator($"[data-metric={status}]").TextContentAsync());
            }
        }

        // The charts: a named image with the totals, one point per bucket; run time p95 per workflow as Postgres computes it.
        var chart = page.Locator("[data-chart=throughput] svg[role=img]");
        await Expect(chart).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex($"^Jobs per minute: {submitted.Count} submitted, "));
        var points = await chart.Locator("g[data-series=submitted] circle").CountAsync();
        Assert.InRange(points, 60, 61);
        await Expect(page.Locator("[data-chart=failure-rate] svg[role=img]")).ToBeVisibleAsync();
        foreach (var workflow in new[] { "dashboard_quick", "dashboard_failing" })
        {
            var finished = done.Where(j => j.Workflow == workflow && j.Status is "completed" or "failed" && j.Started is not null).ToList();
            var latencyRows = page.Locator($"table[data-role=latency-table] tr[data-workflow={workflow}]");
            Assert.Equal(finished.Count, (await latencyRows.Locator("[data-metric=jobs]").AllTextContentsAsync()).Sum(int.Parse));
            foreach (var group in finished.GroupBy(j => Minute(j.Completed!.Value)))
            {
                var runs = group.Select(j => (j.Completed!.Value - j.Started!.Value).TotalMilliseconds).ToList();
                var shown = await page.Locator($"table[data-role=latency-table] tr[data-workflow={workflow}][data-bucket='{Iso(group.Key)}'] [data-metric=run_time_p95_ms]")
                    .GetAttributeAsync("data-value");
                var expectedP95 = Percentile(runs, 0.95);
                Assert.True(Math.Abs(expectedP95 - double.Parse(shown!, CultureInfo.InvariantCulture)) <= 0.1, $"{workflow} run time p95: {shown}, expected {expectedP95}");
            }

            await Expect(page.Locator($"[data-chart=run-time] g[data-series={workflow}] circle").First).ToBeAttachedAsync();
        }

        await Screenshot(page, "activity", "light", 1280);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantFilterNarrowsTheJobsListAndTheCosts()
    {
        using var caller = fixture.Api.CreateClient(admin: false);
        var callerJob = await SubmitAsync(caller, "dashboard_quick", "tenant-check", 0);
        var adminJob = await fixture.SubmitAsync("dashboard_quick", new { n = 9 }, username: "tenant-check", cancellationToken: Ct);
        await JobPolling.WaitForTerminalAsync(caller, $"api/v1/status/{callerJob}", TimeSpan.FromSeconds(90), Ct);
        await fixture.WaitForTerminalAsync(adminJob, Ct);
        await fixture.RecordUsageAsync(callerJob, "openai/gpt-4o-mini", 100, 10, 0.0007m);
        await fixture.RecordUsageAsync(adminJob, "openai/gpt-4o-mini", 100, 10, 0.0009m);

        var page = await OpenAsync("#/jobs");
        await page.GetByLabel("Auto refresh").UncheckAsync();
        await page.GetByLabel("Tenant", new() { Exact = true }).SelectOptionAsync("tests");
        var table = page.Locator("table[data-role=jobs]");
        await Expect(table).ToHaveAttributeAsync("data-query", "limit_results=25&tenant_id=tests");
        var expected = await QueryIdsAsync("SELECT id FROM llm_workflow_jobs WHERE tenant_id = 'tests'");
        Assert.Equal(expected.Count.ToString(CultureInfo.InvariantCulture), await table.GetAttributeAsync("data-total"));
        var shown = (await table.Locator("tbody tr[data-job-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)")).Select(Guid.Parse).ToList();
        Assert.Contains(Guid.Parse(callerJob), shown);
        Assert.DoesNotContain(Guid.Parse(adminJob), shown);
        Assert.All(shown, id => Assert.Contains(id, expected));

        // The choice follows to the costs view, whose total is the tenant's spend in the period.
        await page.EvaluateAsync("location.hash = '#/costs'");
        var content = page.Locator("main [data-query]");
        await Expect(content).ToHaveAttributeAsync("data-query", "days=30&tenant_id=tests");
        await Expect(page.GetByLabel("Tenant", new() { Exact = true })).ToHaveValueAsync("tests");
        var spend = (decimal)(await ScalarAsync(
            "SELECT coalesce(sum(u.cost_usd), 0) FROM llm_provider_usage u JOIN llm_workflow_jobs j ON j.id = u.job_id WHERE j.tenant_id = 'tests'"))!;
        Assert.Equal(spend, decimal.Parse((await page.Locator("[data-total=cost_usd]").GetAttributeAsync("data-value"))!, NumberStyles.Float, CultureInfo.InvariantCulture));

        // All tenants again: the admin's own job is back.
        await page.EvaluateAsync("location.hash = '#/jobs'");
        await page.GetByLabel("Tenant", new() { Exact = true }).SelectOptionAsync("");
        await Expect(table).ToHaveAttributeAsync("data-query", "limit_results=25");
        await Expect(table.Locator($"tr[data-job-id='{adminJob}']")).ToBeVisibleAsync();
        AssertNoConsoleErrors();
    }

    private async Task AssertRowsMatchApiAsync(IPage page, string column, string order)
    {
        var table = page.Locator("table[data-role=jobs]");
        await Expect(table).ToHaveAttributeAsync("data-query", new System.Text.RegularExpressions.Regex(
            column == "created_at" && order == "desc" ? "^[^&]*&search=[^&]*$" : $"&sort={column}&order={order}$"));
        var query = await table.GetAttributeAsync("data-query");
        var answer = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs?{query}", Ct);
        var expected = answer!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!).ToArray();
        Assert.Equal(4, expected.Length);
        Assert.Equal(expected, await table.Locator("tbody tr[data-job-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.jobId)"));
    }

    /// <summary>A bucket start as the API writes it (System.Text.Json's round-trip form of a UTC DateTimeOffset).</summary>
    private static string Iso(DateTimeOffset t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture);

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        var position = fraction * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }

    private static async Task<string> SubmitAsync(HttpClient client, string workflow, string username, int priority)
    {
        object input = workflow == "dashboard_quick" ? new { n = priority } : new { };
        using var response = await client.PostAsJsonAsync("api/v1/workflow",
            new { workflow_name = workflow, input_data = input, username, user_id = username, action = "lists test", priority }, Ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["job_id"]!;
    }

    private async Task<string?> StatusAsync(string jobId) =>
        (string?)(await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/status/{jobId}", Ct))!["status"];

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(100, Ct);
        }
    }

    private async Task<List<JobRow>> ReadJobsAsync(string tenant)
    {
        await using var connection = new NpgsqlConnection(fixture.PostgresConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT workflow_name, status, created_at, started_at, completed_at FROM llm_workflow_jobs WHERE tenant_id = @tenant", connection);
        command.Parameters.AddWithValue("tenant", tenant);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<JobRow>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new JobRow(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return rows;
    }

    private Task<List<Guid>> QueryIdsAsync(string sql, params (string Name, object Value)[] parameters) =>
        TestSql.QueryIdsAsync(fixture.PostgresConnectionString, sql, Ct, parameters);

    private Task<object?> ScalarAsync(string sql, params (string Name, object Value)[] parameters) =>
        TestSql.ScalarAsync(fixture.PostgresConnectionString, sql, Ct, parameters);

    /// <summary>The jobs view, not refreshing by itself, searching for <paramref name="username"/>.</summary>
    private async Task<IPage> OpenJobsSearchingAsync(string username)
    {
        var page = await OpenAsync("#/jobs");
        await page.GetByLabel("Auto refresh").UncheckAsync();
        await page.GetByLabel("Search").FillAsync(username);
        await page.GetByLabel("Search").PressAsync("Enter");
        return page;
    }

    /// <summary>Old completed jobs of one username and tenant, written straight to Postgres, <paramref name="perSecond"/> per created second.</summary>
    private Task InsertFinishedJobsAsync(string username, string tenant, int count, int perSecond) =>
        TestSql.ExecuteAsync(fixture.PostgresConnectionString, """
            INSERT INTO llm_workflow_jobs (celery_task_id, workflow_name, username, status, input_data, completed_at, tenant_id, created_at)
            SELECT gen_random_uuid()::text, 'dashboard_quick', @username, 'completed', '{}', now(), @tenant,
                   timestamptz '2020-01-01 00:00:00+00' + (i / @per_second) * interval '1 second'
              FROM generate_series(1, @count) i
            """, Ct, ("username", username), ("tenant", tenant), ("count", count), ("per_second", perSecond));

    private async Task<IPage> OpenAsync(string hash, ColorScheme scheme = ColorScheme.Light, int width = 1280)
    {
        var page = await fixture.NewPageAsync(scheme, width, 800, _contexts, _consoleErrors);

        // Sign in through the form, as a person would.
        await page.GotoAsync("dashboard/" + hash);
        await page.GetByLabel("Admin API key").FillAsync(TestEnvironment.AdminKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#nav")).ToBeVisibleAsync();
        return page;
    }

    /// <summary>The screenshots docs/DASHBOARD.md shows, copied into docs/screenshots only when UPDATE_SCREENSHOTS=1.</summary>
    private static readonly HashSet<string> ForDocs =
    [
        "jobs-sorted-light-1280", "jobs-bulk-light-1280", "jobs-drilldown-light-1280", "activity-light-1280", "jobs-light-1024", "costs-light-1024",
        "activity-dark-1024",
    ];

    private static async Task Screenshot(IPage page, string view, string scheme, int width)
    {
        var name = $"{view}-{scheme}-{width}";
        if (!DashboardFixture.TakesScreenshot(ForDocs.Contains(name)))
        {
            return;
        }

        var path = Path.Combine(DashboardFixture.ScreenshotDirectory, "lists-" + name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled });
        if (ForDocs.Contains(name) && DashboardFixture.UpdatesDocsScreenshots)
        {
            var docs = Path.Combine(RepositoryPaths.Root, "docs", "screenshots");
            Directory.CreateDirectory(docs);
            File.Copy(path, Path.Combine(docs, name + ".png"), overwrite: true);
        }
    }

    /// <param name="expected409s">Routes the test expects the API to refuse with 409 once each (Chromium logs every non-2xx answer).</param>
    private void AssertNoConsoleErrors(params string[] expected409s)
    {
        lock (_consoleErrors)
        {
            var refused = _consoleErrors.Where(e => e.Contains("status of 409", StringComparison.Ordinal)).ToList();
            foreach (var route in expected409s)
            {
                Assert.Single(refused, e => e.Contains(route + ":", StringComparison.Ordinal));
            }

            var unexpected = _consoleErrors.Where(e => !expected409s.Any(route => e.Contains("status of 409", StringComparison.Ordinal) && e.Contains(route + ":", StringComparison.Ordinal))).ToList();
            Assert.True(unexpected.Count == 0, "Console errors:\n" + string.Join("\n", unexpected));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }
    }

    private sealed record JobRow(string Workflow, string Status, DateTimeOffset Created, DateTimeOffset? Started, DateTimeOffset? Completed);
}
