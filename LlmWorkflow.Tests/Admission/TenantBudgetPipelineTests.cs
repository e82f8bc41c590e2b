using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Pipeline;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Dollar budgets per tenant on real servers, two workers, a fake OpenAI that answers every call with 200 output
/// tokens (a gpt-4o call costs about $0.0022; its forecast before any history, max_tokens 250, about $0.0027). The
/// test caller's tenant is <c>tests</c>.
/// </summary>
[IntegrationTest]
public sealed class TenantBudgetPipelineTests(TestServers servers)
{
    private const int Jobs = 20;

    /// <summary>The forecast of one step at most: the prompt plus max_tokens (250) at gpt-4o's prices.</summary>
    private const decimal MaxStepEstimate = 0.0030m;

    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task TwentyJobsAtOnceOnADailyBudgetSpendNoMoreThanItAndFailOnlyTheJobsThatDoNotFit()
    {
        var ct = TestContext.Current.CancellationToken;
        const decimal budget = 0.02m;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        await using var run = await RunAsync(llm, "dollar_budget_fail", Budget(budget), ct);

        var spent = run.Completed.Sum(Cost);
        var failed = run.Failed;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"daily budget ${budget}: {run.Completed.Count} completed, {failed.Count} failed (budget_exceeded), spent ${spent} " +
            $"({spent / budget:P1} of the budget, ${budget - spent} left), {llm.Accepted.Count} calls made, {run.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(Jobs, run.Completed.Count + failed.Count);
        Assert.All(failed, f => Assert.Equal(("budget_exceeded", "USER_ERROR"), ((string?)f["error"]!["type"], (string?)f["error"]!["category"])));
        Assert.Contains("tenant:tests:daily", (string?)failed[0]["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(run.Completed.Count, llm.Accepted.Count);
        Assert.True(spent <= budget, $"spent ${spent} over the budget of ${budget}");
        // No job was failed that would have fit: what is left is less than one step's forecast.
        Assert.True(budget - spent < MaxStepEstimate, $"${budget - spent} left: a failed job would have fit");
        Assert.NotEmpty(failed);

        var report = await run.Client.GetFromJsonAsync<JsonObject>("/api/v1/usage/budget", ct);
        var daily = report!["budgets"]!.AsArray().Single(b => (string?)b!["budget"] == "daily")!;
        Assert.Equal(("tests", budget, 0m), ((string?)report["tenant_id"], (decimal)daily["limit_usd"]!, (decimal)daily["reserved_usd"]!));
        Assert.InRange((decimal)daily["spent_usd"]!, spent, spent + 0.00001m * run.Completed.Count);

        // The operators' view of every tenant's spend reports the same window.
        using var admin = run.Api.CreateAuthenticatedClient(admin: true);
        var limits = await admin.GetFromJsonAsync<JsonObject>("/api/v1/providers/limits", ct);
        var tenantDaily = limits!["tenant_spend"]!.AsArray().Single(t => (string?)t!["tenant_id"] == "tests" && (string?)t["budget"]!["budget"] == "daily")!["budget"]!;
        Assert.Equal(((decimal)daily["limit_usd"]!, (decimal)daily["spent_usd"]!), ((decimal)tenantDaily["limit_usd"]!, (decimal)tenantDaily["spent_usd"]!));
    }

    [Fact]
    public async Task WithOnBudgetWaitTheJobsThatDoNotFitParkAndCompleteWhenTheWindowRolls()
    {
        var ct = TestContext.Current.CancellationToken;
        const decimal budget = 0.011m;
        var window = TimeSpan.FromSeconds(3);
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var settings = Budget(budget);
        settings["Budgets:DailyWindow"] = window.ToString("c", CultureInfo.InvariantCulture);
        await using var run = await RunAsync(llm, "dollar_budget_wait", settings, ct);

        var perCall = run.Completed.Max(Cost);
        var calls = llm.Accepted;
        var peak = calls.Max(start => calls.Count(c => c.At >= start.At && c.At < start.At + window)) * perCall;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"budget ${budget} per {window.TotalSeconds} s: {run.Completed.Count} completed, peak ${peak} in one window, " +
            $"calls over {(calls[^1].At - calls[0].At).TotalSeconds:F1} s, {run.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(Jobs, run.Completed.Count);
        Assert.Equal(Jobs, calls.Count);
        Assert.True(peak <= budget, $"${peak} spent within one window of the budget ${budget}");
        // Four calls fit a window: twenty take at least four windows more.
        Assert.True(calls[^1].At - calls[0].At >= window * 3, "the jobs did not wait for the window to roll");
    }

    [Fact]
    public async Task WithOnBudgetDowngradeTheStepRunsOnTheCheaperModelAndSaysSo()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        // $0.001 holds no gpt-4o call (about $0.0027 forecast) but several gpt-4o-mini ones (about $0.00016).
        await using var service = await OneWorkerAsync(llm, "dollar_budget_downgrade", Budget(0.001m), ct);
        var client = service.Client;

        var done = await JobPolling.WaitForTerminalAsync(client, await SubmitAsync(client, "dollar_budget_downgrade", "[downgrade]", ct), JobTimeout, ct);

        Assert.Equal("completed", (string?)done["status"]);
        var output = done["result"]!["output"]!;
        Assert.Equal(("openai/gpt-4o-mini", "openai/gpt-4o"), ((string?)output["model"], (string?)output["downgraded_from"]));
        Assert.Contains("\"gpt-4o-mini\"", Assert.Single(llm.Accepted).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithOnBudgetWaitForApprovalTheJobWaitsForAPersonAndRunsOverBudgetOnlyWhenApproved()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        // $0.001 holds no gpt-4o call (about $0.0027 forecast).
        await using var service = await OneWorkerAsync(llm, "dollar_budget_approval", Budget(0.001m), ct);
        var client = service.Client;

        var approved = await SubmitAsync(client, "dollar_budget_approval", "[approve-me]", ct);
        var rejected = await SubmitAsync(client, "dollar_budget_approval", "[reject-me]", ct);
        foreach (var (job, approve) in new[] { (approved, true), (rejected, false) })
        {
            var waiting = await JobPolling.WaitForStatusAsync(client, job, "waiting", JobTimeout, ct);
            var wait = waiting["waiting_for"]!;
            Assert.Equal(("approval", "budget.answer"), ((string?)wait["kind"], (string?)wait["event"]));
            Assert.Contains("is forecast to cost $", (string?)wait["prompt"], StringComparison.Ordinal);
            Assert.NotNull((string?)wait["decision_url"]);
            var jobId = (string)waiting["job_id"]!;
            using var decision = await client.PostAsJsonAsync($"/api/v1/jobs/{jobId}/signals/budget.answer", new { approved = approve, comment = "test" }, ct);
            Assert.Equal(HttpStatusCode.Accepted, decision.StatusCode);
        }

        var approvedDone = await JobPolling.WaitForTerminalAsync(client, approved, JobTimeout, ct);
        var rejectedDone = await JobPolling.WaitForTerminalAsync(client, rejected, JobTimeout, ct);
        Assert.Equal("completed", (string?)approvedDone["status"]);
        Assert.Equal(("failed", "budget_exceeded"), ((string?)rejectedDone["status"], (string?)rejectedDone["error"]!["type"]));
        Assert.Equal(1, llm.AnsweredContaining("[approve-me]"));
        Assert.Equal(0, llm.AnsweredContaining("[reject-me]"));
        // The approved call is counted in the budget it ran over.
        var report = await client.GetFromJsonAsync<JsonObject>("/api/v1/usage/budget", ct);
        var daily = report!["budgets"]!.AsArray().Single(b => (string?)b!["budget"] == "daily")!;
        Assert.Equal(Cost(approvedDone), (decimal)daily["spent_usd"]!);
    }

    [Fact]
    public async Task APerUserDailyBudgetHoldsBackThatUserOnly()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var environment = await TestEnvironment.CreateAsync(servers, "dollar_budget_per_user");
        // Two calls of about $0.0021 fit $0.005; a third does not.
        var settings = environment.Settings(Settings(llm, new() { ["Tenants:tests:Budgets:PerUserDailyUsd"] = "0.005" }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var ended = new List<(string User, JsonObject Job)>();
        foreach (var user in new[] { "u1", "u1", "u1", "u2" })
        {
            using var response = await client.PostAsJsonAsync("/api/v1/workflow",
                new { workflow_name = "dollar_budget_fail", user_id = user, input_data = new { question = Marker(user, ended.Count) } }, ct);
            var statusUrl = (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
            ended.Add((user, await JobPolling.WaitForTerminalAsync(client, statusUrl, JobTimeout, ct)));
        }

        Assert.Equal(["completed", "completed", "failed", "completed"], ended.Select(e => (string?)e.Job["status"]));
        Assert.Contains("tenant:tests:user:u1:daily", (string?)ended[2].Job["error"]!["message"], StringComparison.Ordinal);
        using var u1 = api.CreateAuthenticatedClient();
        u1.DefaultRequestHeaders.Add("X-User-Id", "u1");
        var report = await u1.GetFromJsonAsync<JsonObject>("/api/v1/usage/budget", ct);
        var perUser = Assert.Single(report!["budgets"]!.AsArray())!;
        Assert.Equal(("per_user_daily", "u1"), ((string?)perUser["budget"], (string?)perUser["user_id"]));
        Assert.Equal(ended.Take(2).Sum(e => Cost(e.Job)), (decimal)perUser["spent_usd"]!);
    }

    [Theory]
    [InlineData("on_budget", "explode", "on_budget must be one of fail, downgrade, wait")]
    [InlineData("budget_check", "whole_job", "budget_check must be one of step, remaining; got \"whole_job\"")]
    public async Task ADefinitionWithAnUnknownOnBudgetOrBudgetCheckIsRefusedWith400NamingTheField(string field, string value, string message)
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = (await TestEnvironment.CreateAsync(servers, "dollar_budget_invalid_" + field)).Settings(new Dictionary<string, string?> { ["Workflows:Root"] = PipelineTestWorkflows.Root });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        var workflow = JsonNode.Parse("""
            {"name": "bad_budget", "steps": [{"id": "a", "type": "transform", "config": {"operation": "uppercase", "input": "x"}}]}
            """)!;
        workflow[field] = value;

        using var response = await client.PostAsJsonAsync("/api/v1/workflow/validate", new { workflow, input_data = new { } }, ct);

        var body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var messages = body!["errors"]!["workflow." + field]!.AsArray().Select(m => (string?)m).ToList();
        Assert.Contains(messages, m => m!.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ARedisFlushedMidRunIsReseededFromPostgresAndPaysNothingTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        const decimal budget = 0.011m; // five calls of about $0.0022
        // Deleted after the Redis server below stops (disposed in reverse order).
        using var folder = new LlmWorkflow.Tests.Hosting.TemporaryDirectory();
        await using var redis = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.Path });
        await redis.StartAsync(ct);
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var environment = await TestEnvironment.CreateAsync(servers, "dollar_budget_flush");
        var extra = Budget(budget);
        extra["ConnectionStrings:redis"] = redis.ConnectionString;
        var settings = environment.Settings(Settings(llm, extra));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var before = new List<JsonObject>();
        for (var i = 0; i < 3; i++)
        {
            before.Add(await JobPolling.WaitForTerminalAsync(client, await SubmitAsync(client, "dollar_budget_fail", Marker("before", i), ct), JobTimeout, ct));
        }

        await using (var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},allowAdmin=true"))
        {
            await admin.GetServers()[0].FlushAllDatabasesAsync();
        }

        var after = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            after.Add(await SubmitAsync(client, "dollar_budget_fail", Marker("after", i), ct));
        }

        var ended = new List<JsonObject>();
        foreach (var job in after)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct));
        }

        var completed = before.Concat(ended).Where(j => (string?)j["status"] == "completed").ToList();
        var spent = completed.Sum(Cost);
        TestContext.Current.TestOutputHelper?.WriteLine($"flushed after 3 calls: {completed.Count} completed in all, spent ${spent} of ${budget}");
        Assert.All(before, j => Assert.Equal("completed", (string?)j["status"]));
        // Without the seed the flushed window would have let all five through ($0.0175 in all).
        Assert.True(spent <= budget, $"spent ${spent} over the budget of ${budget} after the flush");
        Assert.True(budget - spent < MaxStepEstimate, $"${budget - spent} left: a failed job would have fit");
        Assert.Equal(completed.Count, llm.Accepted.Count);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(1, llm.AnsweredContaining(Marker("before", i)));
        }
    }

    private static Dictionary<string, string?> Budget(decimal dailyUsd) => new()
    {
        ["Tenants:tests:Budgets:DailyUsd"] = dailyUsd.ToString(CultureInfo.InvariantCulture),
    };

    private static Dictionary<string, string?> Settings(FakeRateLimitedOpenAiServer llm, Dictionary<string, string?> extra) =>
        AdmissionPipelineTests.Settings(llm, new Dictionary<string, string?>(extra) { ["Worker:MaxConcurrentJobs"] = "12" });

    /// <summary>Submits <see cref="Jobs"/> jobs at once to two workers and waits for all of them to end.</summary>
    private async Task<RunResult> RunAsync(FakeRateLimitedOpenAiServer llm, string workflow, Dictionary<string, string?> extra, CancellationToken ct)
    {
        var environment = await TestEnvironment.CreateAsync(servers, workflow);
        var settings = environment.Settings(Settings(llm, extra));
        var api = new ApiFactory(settings);
        var client = api.CreateAuthenticatedClient();
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);
        var started = DateTimeOffset.UtcNow;
        var jobs = await Task.WhenAll(Enumerable.Range(0, Jobs).Select(i => SubmitAsync(client, workflow, Marker(workflow, i), ct)));
        var ended = new List<JsonObject>();
        foreach (var job in jobs)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct));
        }

        return new RunResult(api, client, ended, DateTimeOffset.UtcNow - started);
    }

    private Task<OneWorker> OneWorkerAsync(FakeRateLimitedOpenAiServer llm, string name, Dictionary<string, string?> extra, CancellationToken ct) =>
        StartOneWorkerAsync(servers, llm, name, extra, ct);

    /// <summary>An API and one worker on a database of their own; disposed together.</summary>
    internal static async Task<OneWorker> StartOneWorkerAsync(
        TestServers servers, FakeRateLimitedOpenAiServer llm, string name, Dictionary<string, string?> extra, CancellationToken ct)
    {
        var settings = (await TestEnvironment.CreateAsync(servers, name)).Settings(Settings(llm, extra));
        var api = new ApiFactory(settings);
        return new OneWorker(api, api.CreateAuthenticatedClient(), await WorkerHost.StartAsync(settings, ct));
    }

    internal sealed record OneWorker(ApiFactory Api, HttpClient Client, WorkerHost Worker) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Worker.DisposeAsync();
            Client.Dispose();
            await Api.DisposeAsync();
        }
    }

    private static decimal Cost(JsonObject job) => (decimal)job["result"]!["cost_data"]!["cost_usd"]!;

    private static string Marker(string run, int job) => $"[{run}-{job:D3}]";

    private static Task<string> SubmitAsync(HttpClient client, string workflow, string question, CancellationToken ct) =>
        AdmissionPipelineTests.SubmitAsync(client, question, ct, workflow);

    /// <summary>The jobs as they ended; the API stays up for the report (disposed with the result).</summary>
    private sealed record RunResult(ApiFactory Api, HttpClient Client, IReadOnlyList<JsonObject> Ended, TimeSpan Elapsed) : IAsyncDisposable
    {
        public List<JsonObject> Completed => [.. Ended.Where(j => (string?)j["status"] == "completed")];

        public List<JsonObject> Failed => [.. Ended.Where(j => (string?)j["status"] == "failed")];

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Api.DisposeAsync();
        }
    }
}
