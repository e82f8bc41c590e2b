using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Sleeps, signal waits and approvals inside <c>parallel</c> branches and a <c>for_each</c> body on real servers (issue
/// 80, item 8): a sleep in one branch parks the job once the LLM branch finished, a worker killed meanwhile loses
/// nothing and the next one pays no call twice; waits for two events in two branches are each woken by their own signal
/// (the one not shown wakes the job too); approvals in a for_each body are decided one at a time through their links,
/// each page showing its own iteration's draft.
/// </summary>
[IntegrationTest]
public sealed class NestedWaitPipelineTests(TestServers servers)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ASleepInOneBranchParksAfterTheLlmBranchAndANewWorkerResumesWithoutPayingAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(ASleepInOneBranchParksAfterTheLlmBranchAndANewWorkerResumesWithoutPayingAgain));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        string job;
        DateTimeOffset until;
        await using (var first = await WorkerHost.StartAsync(settings, ct))
        {
            job = await SubmitAsync(client, "parallel_sleep_llm", new { topic = "fan", seconds = 2 }, ct);
            var waiting = await JobPolling.WaitForStatusAsync(client, StatusUrl(job), "waiting", Wait, ct);
            Assert.Equal(("nap", "sleep"), ((string?)waiting["waiting_for"]!["step_id"], (string?)waiting["waiting_for"]!["kind"]));
            until = DateTimeOffset.Parse((string)waiting["waiting_for"]!["until"]!, CultureInfo.InvariantCulture);
            Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "BRANCH: write about fan."));
        }

        await using var next = await WorkerHost.StartAsync(settings, ct);
        var done = await JobPolling.WaitForTerminalAsync(client, StatusUrl(job), Wait, ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(until, DateTimeOffset.Parse((string)done["result"]!["output"]!["slept_until"]!, CultureInfo.InvariantCulture));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "BRANCH: write about fan."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "AFTER: fan:"));
    }

    [Fact]
    public async Task WaitsForTwoEventsInTwoBranchesAreEachWokenByTheirOwnSignal()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(WaitsForTwoEventsInTwoBranchesAreEachWokenByTheirOwnSignal));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var job = await SubmitAsync(client, "parallel_waits_events", new { topic = "signals" }, ct);
        var waiting = await JobPolling.WaitForStatusAsync(client, StatusUrl(job), "waiting", Wait, ct);
        Assert.Equal(("wait_go", "go"), ((string?)waiting["waiting_for"]!["step_id"], (string?)waiting["waiting_for"]!["event"]));

        // The event of the branch not shown is accepted and wakes the job; it parks again on the other.
        var (status, answer) = await SignalAsync(client, job, "later", """{"note": "second branch"}""", ct);
        Assert.Equal((HttpStatusCode.Accepted, "resumed"), (status, (string?)answer["status"]));
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            var now = await client.GetFromJsonAsync<JsonObject>(StatusUrl(job), ct);
            return (string?)now!["status"] == "waiting" && now["steps"]!.AsArray().Any(s => (string?)s!["step_id"] == "wait_later" && (string?)s["status"] == "completed");
        }, Wait);

        (status, answer) = await SignalAsync(client, job, "go", """{"note": "first branch"}""", ct);
        Assert.Equal((HttpStatusCode.Accepted, "resumed"), (status, (string?)answer["status"]));
        var done = await JobPolling.WaitForTerminalAsync(client, StatusUrl(job), Wait, ct);
        Assert.Equal("completed", (string?)done["status"]);
        var output = done["result"]!["output"]!;
        Assert.Equal(("first branch", "second branch"), ((string?)output["go"]!["note"], (string?)output["later"]!["note"]));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "WORK: about signals."));
    }

    [Fact]
    public async Task ASignalForTheWaitNotShownThatCameBeforeTheParkStillWakesTheJob()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(ASignalForTheWaitNotShownThatCameBeforeTheParkStillWakesTheJob));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        // The LLM branch is held while both wait branches look in the inbox and find nothing; "later" comes then, while
        // the job still runs (stored, not resumed). The park that follows shows "go", yet the stored "later" wakes the job.
        var release = new TaskCompletionSource();
        llm.AnswerGate = release.Task;
        var job = await SubmitAsync(client, "parallel_waits_events", new { topic = "race" }, ct);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(PipelineTestWorkflows.CallsContaining(llm, "WORK: about race.") == 1), Wait);
        var (status, answer) = await SignalAsync(client, job, "later", """{"note": "early"}""", ct);
        Assert.Equal((HttpStatusCode.Accepted, "stored"), (status, (string?)answer["status"]));
        llm.AnswerGate = Task.CompletedTask;
        release.SetResult();

        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            var now = await client.GetFromJsonAsync<JsonObject>(StatusUrl(job), ct);
            return (string?)now!["status"] == "waiting" && now["steps"]!.AsArray().Any(s => (string?)s!["step_id"] == "wait_later" && (string?)s["status"] == "completed");
        }, Wait);
        var waiting = await client.GetFromJsonAsync<JsonObject>(StatusUrl(job), ct);
        Assert.Equal("go", (string?)waiting!["waiting_for"]!["event"]);
    }

    [Fact]
    public async Task ApprovalsInAForEachBodyAreDecidedOneAtATimeThroughTheirLinks()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(ApprovalsInAForEachBodyAreDecidedOneAtATimeThroughTheirLinks));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var anonymous = api.CreateClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var job = await SubmitAsync(client, "foreach_approval", new { items = new[] { "red", "blue" } }, ct);
        var decisions = new[] { ("red", "approve", "red is fine"), ("blue", "reject", "not blue") };
        foreach (var (item, decision, comment) in decisions)
        {
            var waiting = await WaitForApprovalAsync(client, job, $"Ship {item}?", ct);
            var link = PathOf((string)waiting["decision_url"]!);
            using var page = await anonymous.GetAsync(link, ct);
            var html = await page.Content.ReadAsStringAsync(ct);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains($"Ship {item}?", html, StringComparison.Ordinal);
            using var decided = await anonymous.PostAsync(link, new FormUrlEncodedContent(new Dictionary<string, string> { ["decision"] = decision, ["comment"] = comment }), ct);
            Assert.Equal(HttpStatusCode.OK, decided.StatusCode);
        }

        var done = await JobPolling.WaitForTerminalAsync(client, StatusUrl(job), Wait, ct);
        Assert.Equal("completed", (string?)done["status"]);
        var outputs = done["result"]!["output"]!["decisions"]!.AsArray();
        Assert.Equal([(true, "red is fine", "link"), (false, "not blue", "link")],
            outputs.Select(o => ((bool?)o!["approved"], (string?)o["comment"], (string?)o["decided_by"])));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "DRAFT ITEM: red."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "DRAFT ITEM: blue."));
    }

    /// <summary>Polls until the job waits on the approval that asks <paramref name="prompt"/>; returns its <c>waiting_for</c>.</summary>
    private static async Task<JsonObject> WaitForApprovalAsync(HttpClient client, string job, string prompt, CancellationToken ct)
    {
        JsonObject? found = null;
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            var status = await client.GetFromJsonAsync<JsonObject>(StatusUrl(job), ct);
            found = (string?)status!["status"] == "waiting" && (string?)status["waiting_for"]?["prompt"] == prompt ? status["waiting_for"]!.AsObject() : null;
            return found is not null;
        }, Wait);
        return found!;
    }

    private async Task<Dictionary<string, string?>> SettingsAsync(FakeOpenAiServer llm, string name) =>
        (await TestEnvironment.CreateAsync(servers, name)).Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Worker:ReconcileInterval"] = "00:00:03",
            ["Approvals:PublicBaseUrl"] = "http://localhost",
        }));

    private static string StatusUrl(string jobId) => $"/api/v1/status/{jobId}";

    /// <summary>The link's path and query, for the in-memory test server (the links name the configured public address).</summary>
    private static string PathOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var absolute) ? absolute.PathAndQuery : url;

    private static async Task<string> SubmitAsync(HttpClient client, string workflow, object input, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }

    private static async Task<(HttpStatusCode Status, JsonObject Answer)> SignalAsync(HttpClient client, string job, string eventName, string body, CancellationToken ct)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync($"/api/v1/jobs/{job}/signals/{eventName}", content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return (response.StatusCode, text.TrimStart().StartsWith('{') ? JsonNode.Parse(text)!.AsObject() : []);
    }
}
