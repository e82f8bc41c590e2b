using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// A provider outage at 3 a.m., as an operator handles it in headless Chromium against the real API and Worker: the
/// Providers view shows the fake provider's 503s (error rate, last errors, circuit, advice), the error card advises,
/// a workflow is paused (its new job is held) and resumed (the job runs), the failed jobs are retried by filter after
/// the count is confirmed, and a retried job's page links each attempt's trace.
/// </summary>
public sealed class DashboardOperatorBrowserTests(DashboardFixture fixture) : DashboardBrowserTestBase, IClassFixture<DashboardFixture>
{
    protected override DashboardFixture Fixture => fixture;

    [Fact]
    public async Task ARetriedJobsPageLinksEachAttemptsTraceWithTheLatestAsTheTrace()
    {
        var jobId = await fixture.SubmitAsync("dashboard_failing", new { }, action: "retried twice", cancellationToken: Ct);
        await fixture.WaitForTerminalAsync(jobId, Ct);
        using (var retry = await fixture.Admin.PostAsJsonAsync($"api/v1/jobs/{jobId}/retry", new { }, Ct))
        {
            retry.EnsureSuccessStatusCode();
        }

        var status = await fixture.WaitForTerminalAsync(jobId, Ct);
        var traces = status["attempt_traces"]!.AsArray();
        Assert.Equal([1, 2], traces.Select(t => (int)t!["attempt"]!));
        var ids = traces.Select(t => (string)t!["trace_id"]!).ToList();
        Assert.NotEqual(ids[0], ids[1]);
        Assert.Equal(ids[1], (string?)status["trace_id"]);

        var page = await OpenAsync($"#/jobs/{jobId}");
        var details = page.Locator("section[aria-labelledby=details-title]");
        await Expect(details.Locator("a[data-role=trace-id]")).ToHaveAttributeAsync("href", $"{DashboardFixture.AspireDashboardUrl}/traces/detail/{ids[1]}");
        var items = details.Locator("[data-role=attempt-traces] li");
        await Expect(items).ToHaveCountAsync(2);
        for (var i = 0; i < 2; i++)
        {
            var link = items.Nth(i).Locator("a[data-role=attempt-trace]");
            await Expect(link).ToHaveAttributeAsync("href", $"{DashboardFixture.AspireDashboardUrl}/traces/detail/{ids[i]}");
            await Expect(link).ToHaveTextAsync(i == 1 ? "Attempt 2 trace (latest)" : "Attempt 1 trace");
        }

        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TheProvidersViewShowsTheLlmBudgetsWithTheWindowsUseAndTheTenantsDollarBudgets()
    {
        // dashboard_flaky's mock call is made (and counted) before its http step, whatever that step then does.
        var jobId = await fixture.SubmitAsync("dashboard_flaky", new { topic = "budgets", service_url = fixture.SlowUrl + "?ms=1&step=fetch", api_key = "k" },
            action: "budget panel", cancellationToken: Ct);
        await fixture.WaitForTerminalAsync(jobId, Ct);

        var page = await OpenAsync("#/providers");
        var panel = page.Locator("[data-role=llm-budgets]");
        // The job's call counts in the mock provider's window: "<n> / 1000" requests.
        await Expect(panel.Locator("tr[data-scope=mock] [data-role=requests]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^[1-9]\d* / 1000$"));
        await Expect(panel.Locator("tr[data-scope=mock] [data-role=state]")).ToHaveTextAsync("Admitting");
        // The fair shares: each tenant with calls in the window, its weight (default 1), its share and its tokens.
        await Expect(panel.Locator("tr[data-scope=mock] [data-role=shares]")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"×1 \d+ % [\d,]+"));
        // An API key's scope is its fingerprint, with the provider entries that use the key beside it.
        await Expect(panel.Locator("tr[data-scope^='key:'] [data-role=key-providers]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\s*\(keyshown\)$"));
        var spend = panel.Locator("table[data-role=tenant-spend] tr[data-tenant=budget-shown][data-budget=daily]");
        await Expect(spend.Locator("[data-role=left]")).ToHaveTextAsync("$25.00");
        await Expect(spend.Locator("progress")).ToHaveAttributeAsync("max", "25");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TheProvidersViewShowsAFakeProvidersOutageAndTheFailedJobsAreRetriedByFilter()
    {
        var since = DateTimeOffset.UtcNow;
        fixture.FakeProvider.OutageStatus = 503;
        var failed = new List<string>();
        try
        {
            foreach (var question in new[] { "one", "two", "three" })
            {
                var jobId = await fixture.SubmitAsync("dashboard_provider", new { question }, action: "outage", cancellationToken: Ct);
                var done = await fixture.WaitForTerminalAsync(jobId, Ct);
                Assert.Equal("provider_unavailable", (string?)done["error"]!["type"]);
                failed.Add(jobId);
            }

            // The view while the provider is down: its card, 100% errors on the model, the 503s, the advice.
            var page = await OpenAsync("#/providers");
            var card = page.Locator("section[data-provider=fakeai]");
            await Expect(card.Locator("[data-role=error-rate]")).ToHaveTextAsync("100%");
            await Expect(card.Locator("tr[data-model=outage-model] [data-role=model-error-rate]")).ToHaveTextAsync("100%");
            await Expect(card.Locator("[data-role=advice]")).ToContainTextAsync("The provider is failing");
            await card.Locator("[data-role=last-errors] summary").ClickAsync();
            await Expect(card.Locator("[data-role=last-errors] li").First).ToHaveAttributeAsync("data-error-type", "provider_unavailable");
            // The first ones were the provider's 503s; once the breaker opened, calls were refused without reaching it.
            await Expect(card.Locator("[data-role=last-errors] li").Filter(new() { HasText = "HTTP 503" }).First).ToBeVisibleAsync();
            // The breaker's state reaches the view with a worker's heartbeat (every 5 s) and the view's refresh (5 s),
            // which may come after the report that carried the failures: awaited, not read once.
            await Expect(card).ToHaveAttributeAsync("data-circuit", new System.Text.RegularExpressions.Regex("^(open|half_open)$"),
                new() { Timeout = 15_000 });
            await Expect(card.Locator("[data-role=circuit]")).ToContainTextAsync("Circuit:");

            // The job's error card says what to do.
            var job = await OpenAsync($"#/jobs/{failed[0]}");
            await Expect(job.Locator("[data-role=error] [data-role=advice]")).ToContainTextAsync("pause the workflow if the outage lasts");
            await job.CloseAsync();

            // The outage ends; once the breaker lets a probe through, the failed jobs are retried by filter.
            fixture.FakeProvider.OutageStatus = null;
            await CloseCircuitAsync();
            await card.Locator("[data-action=retry-provider]").ClickAsync();
            var retryBox = page.Locator("[data-role=bulk-retry]");
            await Expect(retryBox.GetByLabel("Provider")).ToHaveValueAsync("fakeai");
            await retryBox.GetByLabel("Error type").FillAsync("provider_unavailable");
            await retryBox.GetByLabel("Ended since (local time)").FillAsync(LocalInput(since.AddMinutes(-1)));
            await retryBox.Locator("[data-action=count]").ClickAsync();
            await Expect(retryBox.Locator("[data-role=matched]")).ToHaveAttributeAsync("data-count", "3");
            await retryBox.Locator("[data-action=retry-matching]").ClickAsync();
            var dialog = page.Locator("dialog[data-role=retry-confirm]");
            await Expect(dialog.Locator("h2")).ToHaveTextAsync("Retry 3 job(s)?");
            await dialog.Locator("[data-confirm=retry]").ClickAsync();
            await Expect(retryBox.Locator("[data-role=retried]")).ToHaveAttributeAsync("data-count", "3");
            foreach (var jobId in failed)
            {
                Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(jobId, Ct))["status"]);
            }

            AssertNoConsoleErrors();
        }
        finally
        {
            fixture.FakeProvider.OutageStatus = null;
        }
    }

    [Fact]
    public async Task AWorkflowIsPausedAndResumedFromTheDashboard()
    {
        var page = await OpenAsync("#/workflows/dashboard_quick");
        var pauseCard = page.Locator("[data-role=pause-card]");
        await pauseCard.GetByLabel("Reason (optional)").FillAsync("maintenance window");
        await pauseCard.Locator("[data-action=pause]").ClickAsync();
        await Expect(pauseCard).ToHaveAttributeAsync("data-paused", "true");
        await Expect(pauseCard.Locator("[data-role=pause-state]")).ToContainTextAsync("maintenance window");

        // A job submitted now is accepted and held; it costs no worker slot.
        var held = await fixture.SubmitAsync("dashboard_quick", new { n = 42 }, action: "held by the pause", cancellationToken: Ct);
        var status = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{held}", Ct);
        Assert.Equal("scheduled", (string?)status!["status"]);

        var providers = await OpenAsync("#/providers");
        var row = providers.Locator("table[data-role=paused-table] tr[data-workflow=dashboard_quick]");
        await Expect(row.Locator("[data-role=held]")).ToHaveTextAsync("1");
        await row.Locator("[data-action=resume]").ClickAsync();
        await Expect(providers.Locator("[data-role=none-paused]")).ToBeVisibleAsync();
        Assert.Equal("completed", (string?)(await fixture.WaitForTerminalAsync(held, Ct))["status"]);

        await page.ReloadAsync();
        await Expect(page.Locator("[data-role=pause-card]")).ToHaveAttributeAsync("data-paused", "false");
        AssertNoConsoleErrors();
    }

    /// <summary>
    /// What an operator waits for before a bulk retry: the breaker closed again. A half-open breaker lets one probe
    /// call through and refuses the others, so probe jobs are sent (one at a time, once the break is over) until one
    /// is answered, which closes it.
    /// </summary>
    private async Task CloseCircuitAsync()
    {
        for (var probe = 0; probe < 10; probe++)
        {
            await WaitForCircuitNotOpenAsync();
            var jobId = await fixture.SubmitAsync("dashboard_provider", new { question = "probe" }, action: "probe", cancellationToken: Ct);
            if ((string?)(await fixture.WaitForTerminalAsync(jobId, Ct))["status"] == "completed")
            {
                return;
            }
        }

        Assert.Fail("No probe call got through the fakeai circuit breaker after the outage ended.");
    }

    /// <summary>The breaker lets the next call through (half-open or closed) once its break is over.</summary>
    private async Task WaitForCircuitNotOpenAsync()
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var health = await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/admin/providers/health", Ct);
            var state = (string?)health!["providers"]!.AsArray().FirstOrDefault(p => (string?)p!["provider"] == "fakeai")?["circuit_state"];
            if (state is not null and not "open")
            {
                return;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"The fakeai circuit stayed open: {health.ToJsonString()}");
            await Task.Delay(TimeSpan.FromMilliseconds(250), Ct);
        }
    }

    /// <summary>The value of a datetime-local input for <paramref name="instant"/> in the browser's zone (the machine's).</summary>
    private static string LocalInput(DateTimeOffset instant) =>
        instant.ToLocalTime().ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture);

    private async Task<IPage> OpenAsync(string hash)
    {
        var page = await NewPageAsync(ColorScheme.Light, 1280, 900);
        await SignInAsync(page, hash);
        return page;
    }
}
