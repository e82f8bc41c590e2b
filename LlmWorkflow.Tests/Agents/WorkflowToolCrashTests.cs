using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// A worker that dies inside a <c>workflow</c> tool's child run, on real PostgreSQL and redis-server with a fake
/// OpenAI-compatible provider (<see cref="ResearchAgentProvider"/>): the agent of <c>agent_researches</c> calls
/// <c>research</c>, whose child <c>two_step_research</c> has two LLM steps (outline, then draft). The worker stops while
/// the child's draft call is in flight (the provider holds it; the worker's drain ends before it and the run is
/// dropped), after the child's outline was paid and checkpointed under the tool call's idempotency key
/// (<c>llm_agent_child_steps</c>). A new worker completes the job: the outline's prompt was sent once, the agent's
/// first turn was not sent again, and the job's tokens and cost count each paid call once. With or without the crash,
/// each paid call — the agent's turns and the child's steps — has one <c>llm_provider_usage</c> row (a child call's is
/// written with its step's checkpoint), summing to the job's <c>cost_data</c>, and the admin usage report counts them.
/// </summary>
[IntegrationTest]
public sealed class WorkflowToolCrashTests(TestServers servers)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AWorkerKilledInsideAChildRunIsResumedFromTheChildsLastFinishedStep()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await ResearchAgentProvider.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkflowToolCrashTests));
        var settings = environment.Settings(Settings(provider));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        var heldDraft = provider.Hold(ResearchAgentProvider.Draft);

        string job;
        await using (var doomed = await WorkerHost.StartAsync(settings, ct))
        {
            job = await SubmitAsync(client, "durable agents", ct);
            // The child's second step is in flight, so its first is finished: its checkpoint is written before the next step starts.
            await heldDraft.Arrived.WaitAsync(Patience, ct);
            Assert.Equal(["outline"], await ChildStepsAsync(environment, job, ct));
            Assert.Equal((1, 1, 0), (provider.Paid(ResearchAgentProvider.AgentTurn0), provider.Paid(ResearchAgentProvider.Outline), provider.Paid(ResearchAgentProvider.Draft)));
        }

        // The worker is gone (its drain ran out with the draft unanswered); the held answer is never delivered.
        heldDraft.Release();
        await using var survivor = await WorkerHost.StartAsync(settings, ct);
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", Patience, ct);

        Assert.True((string?)done["status"] == "completed", done.ToJsonString());
        var outline = ResearchAgentProvider.OutlineOf("durable agents");
        var output = done["result"]!["output"]!;
        Assert.Equal((ResearchAgentProvider.Report(ResearchAgentProvider.DraftFrom(outline)), 2, 1),
            ((string?)output["answer"], (int)output["turns"]!, (int)output["tool_calls"]!));
        // The child's first prompt was sent once; the draft twice (the dropped request, then the new worker's), paid once.
        Assert.Equal((1, 1), (provider.Asked(ResearchAgentProvider.Outline), provider.Paid(ResearchAgentProvider.Outline)));
        Assert.Equal((2, 1), (provider.Asked(ResearchAgentProvider.Draft), provider.Paid(ResearchAgentProvider.Draft)));
        // The agent's finished turn was read back, not sent again; its last turn was paid once.
        Assert.Equal((1, 1), (provider.Asked(ResearchAgentProvider.AgentTurn0), provider.Asked(ResearchAgentProvider.AgentTurn1)));
        Assert.Equal(["draft", "outline"], await ChildStepsAsync(environment, job, ct));
        Assert.Equal(2L, await ScalarAsync(environment, "SELECT attempts FROM llm_agent_tool_calls WHERE job_id = @job AND call_status = 'finished'", job, ct));

        // The job's usage counts each paid call once: the restored outline and turn 0, the draft and turn 1 paid here.
        var cost = done["result"]!["cost_data"]!;
        var paid = ResearchAgentProvider.Usage.Values;
        Assert.Equal((paid.Sum(u => u.Prompt), paid.Sum(u => u.Completion)), ((int)cost["input_tokens"]!, (int)cost["output_tokens"]!));
        var expectedCost = paid.Sum(u => (u.Prompt * 0.15m + u.Completion * 0.6m) / 1_000_000m); // openai/gpt-4o-mini in workflows/pricing.json
        Assert.Equal(expectedCost, cost["cost_usd"]!.GetValue<decimal>(), 6);
        // The outline's row was written in the first attempt with its checkpoint, turn 0's when that worker stopped.
        await AssertOneUsageRowPerPaidCallAsync(environment, api, job, cost, ct);
    }

    [Fact]
    public async Task EachPaidCallOfAnAgentAndItsChildRunHasOneUsageRow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await ResearchAgentProvider.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkflowToolCrashTests) + "_usage");
        var settings = environment.Settings(Settings(provider));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var job = await SubmitAsync(client, "usage rows", ct);
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", Patience, ct);

        Assert.True((string?)done["status"] == "completed", done.ToJsonString());
        Assert.All(ResearchAgentProvider.Usage.Keys, call => Assert.Equal(1, provider.Paid(call)));
        await AssertOneUsageRowPerPaidCallAsync(environment, api, job, done["result"]!["cost_data"]!, ct);
    }

    /// <summary>
    /// One usage row per paid call, all under the agent step: its two turns, and the child's outline and draft naming
    /// their child step. Their tokens and cost are the job's <c>cost_data</c>, and <c>GET /api/v1/admin/usage</c> counts them.
    /// </summary>
    private static async Task AssertOneUsageRowPerPaidCallAsync(TestEnvironment environment, ApiFactory api, string job, JsonNode cost, CancellationToken ct)
    {
        var rows = await ScalarAsync(environment, """
            SELECT string_agg(coalesce(metadata->>'child_step_id', '-') || ':' || input_tokens || '/' || output_tokens, ',' ORDER BY input_tokens)
              FROM llm_provider_usage WHERE job_id = @job AND metadata->>'step_id' = 'agent'
            """, job, ct);
        var expected = new[] { (ResearchAgentProvider.Outline, "outline"), (ResearchAgentProvider.Draft, "draft"), (ResearchAgentProvider.AgentTurn0, "-"), (ResearchAgentProvider.AgentTurn1, "-") }
            .Select(c => (Step: c.Item2, Usage: ResearchAgentProvider.Usage[c.Item1])).OrderBy(c => c.Usage.Prompt)
            .Select(c => $"{c.Step}:{c.Usage.Prompt}/{c.Usage.Completion}");
        Assert.Equal(string.Join(',', expected), (string?)rows);
        Assert.Equal(4L, await ScalarAsync(environment, "SELECT count(*) FROM llm_provider_usage WHERE job_id = @job", job, ct));
        var rowCost = (decimal)(await ScalarAsync(environment, "SELECT sum(cost_usd) FROM llm_provider_usage WHERE job_id = @job", job, ct))!;
        Assert.Equal(cost["cost_usd"]!.GetValue<decimal>(), rowCost, 6);

        using var admin = api.CreateAuthenticatedClient(admin: true);
        var report = await admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/usage?days=1", ct);
        var total = report!["total"]!;
        Assert.True(((int)total["calls"]!, (int)total["input_tokens"]!, (int)total["output_tokens"]!)
            == (4, (int)cost["input_tokens"]!, (int)cost["output_tokens"]!), total.ToJsonString());
        Assert.Equal(rowCost, (decimal)total["cost_usd"]!, 6);
        var workflow = Assert.Single(report["by_workflow"]!.AsArray())!;
        Assert.Equal(("agent_researches", 4), ((string)workflow["key"]!, (int)workflow["calls"]!));
    }

    private static Dictionary<string, string?> Settings(ResearchAgentProvider provider) => new()
    {
        ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Agents", "workflows"),
        ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
        ["Llm:Providers:openai:BaseUrl"] = provider.ApiUrl.ToString(),
        ["Llm:Providers:openai:ApiKey"] = "sk-test",
        ["Llm:Retry:MaxAttempts"] = "1",
        // The stopped worker gives its run half a second, not the shipped drain: the held call is still in flight then.
        ["Worker:DrainTimeout"] = "00:00:00.500",
        // A job left by a stopped worker is picked up within seconds, not the shipped lease.
        ["Worker:LeaseDuration"] = "00:00:02",
        ["Worker:ReclaimInterval"] = "00:00:00.500",
        ["Worker:RedispatchAfter"] = "00:00:03",
        ["Worker:ReconcileInterval"] = "00:00:01",
    };

    private static async Task<string> SubmitAsync(HttpClient client, string topic, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "agent_researches", input_data = new { topic } }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }

    /// <summary>The child steps checkpointed under the job's tool calls, by step key.</summary>
    private static async Task<string[]> ChildStepsAsync(TestEnvironment environment, string job, CancellationToken ct)
    {
        var keys = await ScalarAsync(environment, "SELECT coalesce(string_agg(step_key, ',' ORDER BY step_key), '') FROM llm_agent_child_steps WHERE job_id = @job", job, ct);
        return ((string)keys!).Split(',', StringSplitOptions.RemoveEmptyEntries);
    }

    private static async Task<object?> ScalarAsync(TestEnvironment environment, string sql, string job, CancellationToken ct)
    {
        var value = await TestSql.ScalarAsync(environment.PostgresConnectionString, sql, ct, ("job", Guid.Parse(job)));
        return value is int or long ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : value;
    }
}
