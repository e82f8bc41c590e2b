using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The job detail's per-step detail (input, rendered prompt with secrets redacted, output, model, timings), the
/// history of a retried job's attempts, and the workflow diagram drawn by the vendored mermaid bundle, whose rendered
/// edges are compared with the edges the definition implies.
/// </summary>
public sealed partial class DashboardBrowserTests
{
    /// <summary>Looks like a provider key, so the one redaction rule list masks it in text as well as under secret names.</summary>
    private const string SecretKey = "sk-test-4f9d2c7e1b8a6350";

    [Fact]
    public async Task StepDetailShowsInputAndRenderedPromptAndARetryKeepsTheFailedAttempt()
    {
        await using var flaky = await FlakyService.StartAsync();
        var jobId = await fixture.SubmitAsync(
            "dashboard_flaky", new { topic = "otters", service_url = flaky.Url, api_key = SecretKey }, action: "retry history", cancellationToken: Ct);
        var failed = await fixture.WaitForTerminalAsync(jobId, Ct);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.True((bool)failed["error"]!["retryable"]!, failed.ToJsonString());

        // The API keeps what each step was given, secrets redacted.
        var draftRow = failed["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "draft")!;
        Assert.Equal("otters", (string?)draftRow["input"]!["topic"]);
        Assert.Equal("[REDACTED]", (string?)draftRow["input"]!["api_key"]);
        Assert.Contains("Write about otters. A brief about otters.", (string?)draftRow["rendered_prompt"], StringComparison.Ordinal);
        Assert.DoesNotContain(SecretKey, failed["steps"]!.ToJsonString(), StringComparison.Ordinal);

        var page = await OpenAsync($"#/jobs/{jobId}");
        var main = page.Locator("main");
        await Expect(main).ToHaveAttributeAsync("data-job-status", "failed");
        await Expect(page.Locator("[data-role=attempts]")).ToHaveCountAsync(0);

        // The retry succeeds once the service answers.
        flaky.Failing = false;
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry job" }).ClickAsync();
        await Expect(main).ToHaveAttributeAsync("data-job-status", "completed", new() { Timeout = 90_000 });
        await Expect(page.Locator("[data-role=attempt]")).ToHaveTextAsync("2");

        var status = await fixture.Admin.GetFromJsonAsync<JsonObject>($"api/v1/status/{jobId}", Ct);
        var previous = status!["previous_attempts"]!.AsArray();
        var first = Assert.Single(previous)!;
        Assert.Equal(1, (int)first["attempt"]!);
        Assert.Equal("failed", (string?)first["status"]);
        Assert.Equal((string?)failed["error_message"], (string?)first["error_message"]);
        Assert.Equal((string?)failed["started_at"] is null, first["started_at"] is null);
        // Attempt 1's rows stay (fetch failed there); attempt 2 ran only what had not finished.
        var rows = status["steps"]!.AsArray().Select(s => ((string)s!["step_id"]!, (int)s["job_attempt"]!, (string)s["status"]!)).ToList();
        Assert.Contains(("fetch", 1, "failed"), rows);
        Assert.Contains(("fetch", 2, "completed"), rows);
        Assert.DoesNotContain(rows, r => r.Item1 == "draft" && r.Item2 == 2);

        // Each attempt as the API tells it: outcome, error, and its own steps.
        var attempts = page.Locator("[data-role=attempts]");
        await Expect(attempts.Locator("section.attempt")).ToHaveCountAsync(2);
        var one = attempts.Locator("section[data-attempt='1']");
        await Expect(one).ToHaveAttributeAsync("data-status", "failed");
        await Expect(one.Locator("[data-role=attempt-error]")).ToContainTextAsync((string)first["error"]!["message"]!);
        await Expect(one.Locator("table[data-role=attempt-steps] tbody tr")).ToHaveCountAsync(rows.Count(r => r.Item2 == 1));
        await Expect(one.Locator("tr:has([data-step-key=fetch])")).ToContainTextAsync("failed");
        var two = attempts.Locator("section[data-attempt='2']");
        await Expect(two).ToHaveAttributeAsync("data-status", "completed");
        await Expect(two.Locator("table[data-role=attempt-steps] tbody tr")).ToHaveCountAsync(rows.Count(r => r.Item2 == 2));
        await Expect(two.Locator("tr:has([data-step-key=fetch])")).ToContainTextAsync("completed");

        // The timeline shows the job as it stands: the draft from attempt 1 (reused), the fetch from attempt 2.
        var draft = page.Locator("[data-role=timeline] li[data-step-id=draft]");
        await Expect(draft).ToHaveAttributeAsync("data-status", "completed");
        await Expect(draft).ToContainTextAsync("From attempt 1");
        await Expect(draft.Locator("[data-role=step-bar]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-role=timeline] li[data-step-id=fetch]")).Not.ToContainTextAsync("From attempt");

        // Per-step detail: input and rendered prompt (secrets redacted), output, model, tokens and timings.
        await draft.GetByText("Details of Draft the note").ClickAsync();
        // Read once the opened detail shows it (InnerText does not wait: inside a closed <details> it reads nothing).
        await Expect(draft.Locator("[data-role=step-input]")).ToBeVisibleAsync();
        var input = JsonNode.Parse(await draft.Locator("[data-role=step-input]").InnerTextAsync())!;
        Assert.True(JsonNode.DeepEquals(draftRow["input"], input), input.ToJsonString());
        var prompt = draft.Locator("[data-role=step-prompt]");
        await Expect(prompt).ToContainTextAsync("[system]");
        await Expect(prompt).ToContainTextAsync("Write about otters. A brief about otters. Key: [REDACTED]");
        await Expect(draft.Locator("[data-role=step-output]")).ToContainTextAsync("lorem");
        await Expect(draft.Locator("dt:text-is('Model') + dd")).ToHaveTextAsync("mock/lorem");
        await Expect(draft.Locator("dt:text-is('Tokens') + dd")).ToContainTextAsync(" in / ");
        await Expect(draft.Locator("dt:text-is('Job attempt') + dd")).ToHaveTextAsync("1");
        var fetch = page.Locator("[data-role=timeline] li[data-step-id=fetch]");
        await fetch.GetByText("Details of Fetch the facts").ClickAsync();
        await Expect(fetch.Locator("[data-role=step-input]")).ToBeVisibleAsync();
        var fetchInput = JsonNode.Parse(await fetch.Locator("[data-role=step-input]").InnerTextAsync())!;
        Assert.Equal("[REDACTED]", (string?)fetchInput["params"]!["query"]!["token"]);
        Assert.Equal("otters", (string?)fetchInput["params"]!["query"]!["topic"]);
        // (The job's own input, shown as submitted, is the caller's; what the steps were given is redacted.)
        Assert.DoesNotContain(SecretKey, await page.Locator("[data-role=timeline]").InnerTextAsync(), StringComparison.Ordinal);

        await Expect(page.Locator("#toast")).Not.ToHaveClassAsync(new Regex("visible"));
        await ScreenshotForDocs(page, page.Locator("section[aria-labelledby=progress-title]"), "job-detail-steps");
        await ScreenshotForDocs(page, attempts, "job-detail-attempts");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task WorkflowDiagramEdgesMatchTheDefinition()
    {
        var definition = (await fixture.Admin.GetFromJsonAsync<JsonObject>("api/v1/workflows/dashboard_shapes", Ct))!;
        definition = definition["definition"] as JsonObject ?? definition;
        var expected = DiagramEdges.Implied(definition["steps"]!.AsArray());

        var page = await OpenAsync("#/workflows/dashboard_shapes");
        var diagram = page.Locator("[data-role=diagram]");
        await Expect(diagram).ToHaveAttributeAsync("data-state", "drawn", new() { Timeout = 30_000 });
        var drawn = JsonNode.Parse(await diagram.EvaluateAsync<string>(DiagramEdges.ReadSvgScript))!;

        var nodes = drawn["nodes"]!.AsArray().ToDictionary(n => (string)n!["id"]!, n => n!);
        var edges = drawn["edges"]!.AsArray().Select(e => DiagramEdges.Resolve((string)e!["id"]!, (string?)e["label"] ?? "", nodes.Keys)).ToHashSet();
        Assert.Equal(expected.OrderBy(e => e.ToString()), edges.OrderBy(e => e.ToString()));
        Assert.Equal(expected.Count, drawn["edges"]!.AsArray().Count);

        // Every step is drawn with its whole display name, inside its shape.
        foreach (var step in DiagramEdges.AllSteps(definition["steps"]!.AsArray()))
        {
            var node = nodes["s_" + (string)step["id"]!];
            var label = (string?)step["display_name"] ?? (string)step["id"]!;
            Assert.Equal(label, Regex.Replace((string)node["text"]!, @"\s+", " ").Trim());
            Assert.True(Inside(node["textBox"]!, node["shapeBox"]!), $"label of {step["id"]} sticks out: {node.ToJsonString()}");
        }

        // Lanes and the loop body are drawn inside their subgraph; the step after the loop below it, not inside.
        var clusters = drawn["clusters"]!.AsArray().ToDictionary(c => (string)c!["id"]!, c => c!["box"]!);
        foreach (var inLanes in new[] { "s_gather", "s_forecast", "s_headlines", "s_digest" })
        {
            Assert.True(Inside(nodes[inLanes]["box"]!, clusters["s_gather__lanes"]), inLanes);
        }

        foreach (var inLoop in new[] { "s_each", "s_describe", "s_rate" })
        {
            Assert.True(Inside(nodes[inLoop]["box"]!, clusters["s_each__loop"]), inLoop);
        }

        var after = nodes["s_publish"]["box"]!;
        var loop = clusters["s_each__loop"];
        Assert.True((double)after["y"]! >= (double)loop["y"]! + (double)loop["height"]!, $"publish {after.ToJsonString()} is not below the loop {loop.ToJsonString()}");

        await ScreenshotForDocs(page, page.Locator("section[aria-labelledby=diagram-title]"), "workflow-diagram");
        AssertNoConsoleErrors();
    }

    private static bool Inside(JsonNode inner, JsonNode outer)
    {
        const double Tolerance = 1.0;
        double X(JsonNode b) => (double)b["x"]!;
        double Y(JsonNode b) => (double)b["y"]!;
        double W(JsonNode b) => (double)b["width"]!;
        double H(JsonNode b) => (double)b["height"]!;
        return X(inner) >= X(outer) - Tolerance && Y(inner) >= Y(outer) - Tolerance
            && X(inner) + W(inner) <= X(outer) + W(outer) + Tolerance && Y(inner) + H(inner) <= Y(outer) + H(outer) + Tolerance;
    }

    /// <summary>
    /// A screenshot of one part of the page (all of it, however long) at the default 1280 px width, copied into
    /// docs/screenshots only with UPDATE_SCREENSHOTS=1, like <see cref="Screenshot"/>.
    /// </summary>
    private static async Task ScreenshotForDocs(IPage page, ILocator part, string view)
    {
        var name = $"{view}-light-{page.ViewportSize?.Width ?? 1280}.png";
        if (!DashboardFixture.TakesScreenshot(forDocs: true))
        {
            return;
        }

        var path = Path.Combine(DashboardFixture.ScreenshotDirectory, name);
        await part.ScreenshotAsync(new LocatorScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled });
        if (DashboardFixture.UpdatesDocsScreenshots)
        {
            File.Copy(path, Path.Combine(RepositoryPaths.Root, "docs", "screenshots", name), overwrite: true);
        }
    }

    /// <summary>A local HTTP endpoint that answers 503 while <see cref="Failing"/>, then 200 with a small JSON body.</summary>
    private sealed class FlakyService : IAsyncDisposable
    {
        private WebApplication _app = null!;
        private volatile bool _failing = true;

        public bool Failing
        {
            get => _failing;
            set => _failing = value;
        }

        public string Url { get; private set; } = "";

        public static async Task<FlakyService> StartAsync()
        {
            var service = new FlakyService();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
            service._app = builder.Build();
            service._app.MapGet("/facts", (string? topic) => service.Failing
                ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable)
                : Results.Json(new { topic, facts = new[] { "Otters hold hands while sleeping." } }));
            await service._app.StartAsync();
            service.Url = service._app.Urls.First().TrimEnd('/') + "/facts";
            return service;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
