using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// Triage from the jobs list: a failed row shows its error and offers no retry that cannot help, the filters live in
/// the URL (a link opens the same view, Back undoes a change), search finds the action text and the input, and the
/// counts per status are the API's.
/// </summary>
public sealed partial class DashboardBrowserTests
{
    [Fact]
    public async Task TriageFromTheListWithFiltersInTheUrl()
    {
        var marker = $"Kyoto{Guid.NewGuid():N}"[..14];
        var failing = await fixture.SubmitAsync("dashboard_failing", new { }, username: "triage", action: $"trip to {marker}", cancellationToken: Ct);
        var byInput = await fixture.SubmitAsync("dashboard_quick", new { n = 7, note = $"{marker}-in-the-input" }, username: "triage", action: "plain", cancellationToken: Ct);
        var failed = await fixture.WaitForTerminalAsync(failing, Ct);
        await fixture.WaitForTerminalAsync(byInput, Ct);

        // The action text shown in the row finds its job, ignoring case; so does a word of the input.
        var page = await OpenAsync($"#/jobs?search={Uri.EscapeDataString($"trip to {marker.ToLowerInvariant()}")}");
        var table = page.Locator("table[data-role=jobs]");
        var rows = table.Locator("tbody tr[data-job-id]");
        await page.GetByLabel("Auto refresh").UncheckAsync();
        await Expect(page.GetByLabel("Search")).ToHaveValueAsync($"trip to {marker.ToLowerInvariant()}");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToHaveAttributeAsync("data-job-id", failing);
        await page.GetByLabel("Search").FillAsync($"{marker}-in-the-input");
        await page.GetByLabel("Search").PressAsync("Enter");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToHaveAttributeAsync("data-job-id", byInput);
        Assert.EndsWith($"#/jobs?limit_results=25&search={marker}-in-the-input", page.Url, StringComparison.Ordinal);

        // The failed row says why, and offers no retry where the job page says retry cannot help.
        await page.GetByLabel("Search").FillAsync(marker);
        await page.GetByLabel("Search").PressAsync("Enter");
        await Expect(rows).ToHaveCountAsync(2);
        var failedRow = table.Locator($"tr[data-job-id='{failing}']");
        await Expect(failedRow.Locator("[data-role=row-error]")).ToHaveTextAsync((string)failed["error_message"]!);
        Assert.False((bool)failed["error"]!["retryable"]!);
        await Expect(failedRow.Locator("[data-action=retry]")).ToHaveCountAsync(0);

        // Counts per status are the API's totals under the same filters.
        var counts = page.Locator("[data-role=status-counts]");
        foreach (var status in new[] { "completed", "failed", "queued" })
        {
            var answer = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs?search={marker}&status_filter={status}&limit=1", Ct);
            await Expect(counts.Locator($"a[data-count-status={status}]")).ToHaveAttributeAsync("data-count", ((int)answer!["total"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        // A count narrows the list to its status; the URL says so, a copy of it opens the same view, Back undoes it.
        await counts.Locator("a[data-count-status=failed]").ClickAsync();
        await Expect(table).ToHaveAttributeAsync("data-query", $"status_filter=failed&limit_results=25&search={marker}");
        await Expect(rows).ToHaveCountAsync(1);
        Assert.EndsWith($"#/jobs?status_filter=failed&limit_results=25&search={marker}", page.Url, StringComparison.Ordinal);
        var shared = await OpenAsync(new Uri(page.Url).Fragment);
        await Expect(shared.GetByLabel("Status")).ToHaveValueAsync("failed");
        await Expect(shared.Locator("table[data-role=jobs]")).ToHaveAttributeAsync("data-query", $"status_filter=failed&limit_results=25&search={marker}");

        await page.GoBackAsync();
        await Expect(page.GetByLabel("Status")).ToHaveValueAsync("");
        await Expect(page.Locator("table[data-role=jobs]")).ToHaveAttributeAsync("data-query", $"limit_results=25&search={marker}");
        await Expect(page.Locator("table[data-role=jobs] tbody tr[data-job-id]")).ToHaveCountAsync(2);
        AssertNoConsoleErrors();
    }
}
