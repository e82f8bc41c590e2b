using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Fakes;
using static LlmWorkflow.Tests.Agents.AgentTestKit;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent step against fake providers answering in their real wire formats (Chat Completions <c>tool_calls</c>,
/// Messages <c>tool_use</c>) and a fake HTTP tool: the loop, the tool's idempotency key, the caps and per-tool approval.
/// </summary>
[IntegrationTest]
public sealed class AgentStepTests
{
    [Fact]
    public async Task OpenAiToolCallsDriveTheLoopAndTheToolGetsAStableIdempotencyKey()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_abc", "lookup_order", new JsonObject { ["order_id"] = "A-17" }));
        provider.Enqueue(ToolCallWire.OpenAiText("Order A-17 was delivered.", promptTokens: 180, completionTokens: 9));
        var sink = new RecordingSink();
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmWorkflow.Engine.Telemetry.ActivitySource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        var result = await Runner(OpenAiGateway(provider.ApiUrl), AgentServices.InMemory(allowPrivateNetworks: true))
            .RunAsync(Workflow("fakeai/gpt-4o-mini", tools.BaseUrl), Question(), Options("run-openai", sink), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(("Order A-17 was delivered.", "answered", 2, 1), ((string?)result.Output!["answer"], (string?)result.Output["stop_reason"],
            (int)result.Output["turns"]!, (int)result.Output["tool_calls"]!));
        var first = provider.Requests[0].Json!;
        Assert.Equal(["lookup_order", "refund", "read_page"], first["tools"]!.AsArray().Select(t => (string)t!["function"]!["name"]!));
        var second = provider.Requests[1].Json!["messages"]!.AsArray();
        Assert.Equal("call_abc", (string)second[2]!["tool_calls"]![0]!["id"]!);
        Assert.Equal(("tool", "call_abc"), ((string)second[3]!["role"]!, (string)second[3]!["tool_call_id"]!));
        Assert.Contains("delivered", (string)second[3]!["content"]!, StringComparison.Ordinal);
        var call = Assert.Single(tools.Requests);
        Assert.Equal("/orders/A-17", call.Path);
        Assert.Equal(Key("run-openai", "agent", 0, "call_abc"), call.Header("Idempotency-Key"));
        // Both turns are the step's usage and the job's: 100 + 180 in, 20 + 9 out.
        Assert.Equal((280, 29), (result.InputTokens, result.OutputTokens));
        Assert.Equal(280 * 1e-6m + 29 * 2e-6m, result.CostUsd);
        Assert.Equal(["agent_turn", "agent_tool_call", "agent_tool_result", "agent_turn"],
            sink.Events.Where(e => e.Kind.StartsWith("agent_", StringComparison.Ordinal)).Select(e => e.Kind));
        var wire = ProgressEventJson.ToJson(sink.Events.OfType<AgentToolProgress>().Last());
        Assert.Equal(("agent_tool_result", "lookup_order", "finished"), ((string?)wire["type"], (string?)wire["tool"], (string?)wire["status"]));
        // GenAI spans: invoke_agent over two chat turns and one execute_tool, in one trace.
        var agentSpan = Assert.Single(spans, s => (string?)s.GetTagItem("llmworkflow.job_id") == "run-openai" && s.OperationName == "invoke_agent agent");
        var trace = spans.Where(s => s.TraceId == agentSpan.TraceId).ToList();
        Assert.Equal("invoke_agent", agentSpan.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(2, trace.Count(s => (string?)s.GetTagItem("gen_ai.operation.name") == "chat" && s.ParentSpanId == agentSpan.SpanId));
        var toolSpan = Assert.Single(trace, s => (string?)s.GetTagItem("gen_ai.operation.name") == "execute_tool");
        Assert.Equal(("lookup_order", "call_abc"), ((string?)toolSpan.GetTagItem("gen_ai.tool.name"), (string?)toolSpan.GetTagItem("gen_ai.tool.call.id")));
    }

    [Fact]
    public async Task AnthropicToolUseDrivesTheLoop()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeAnthropicServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.AnthropicToolUse("toolu_01", "lookup_order", new JsonObject { ["order_id"] = "B-2" }, "Let me look that up."));
        provider.Enqueue(ToolCallWire.AnthropicText("Order B-2 was delivered."));

        var result = await Runner(AnthropicGateway(provider.BaseUrl), AgentServices.InMemory(allowPrivateNetworks: true))
            .RunAsync(Workflow("anthropic/claude-sonnet-4-5", tools.BaseUrl), Question("Where is B-2?"), Options("run-anthropic"), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("Order B-2 was delivered.", (string?)result.Output!["answer"]);
        Assert.Equal("/orders/B-2", Assert.Single(tools.Requests).Path);
        Assert.Equal(3, provider.Requests[0].Json!["tools"]!.AsArray().Count);
        var second = provider.Requests[1].Json!["messages"]!.ToJsonString();
        Assert.Contains("\"tool_use\"", second, StringComparison.Ordinal);
        Assert.Contains("\"tool_result\"", second, StringComparison.Ordinal);
        Assert.Contains("toolu_01", second, StringComparison.Ordinal);
        Assert.Equal((320, 45), (result.InputTokens, result.OutputTokens));
    }

    [Fact]
    public async Task MaxCostEndsTheLoopBeforeATurnThatCannotFitAndSpendStaysWithinOneEstimateError()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        // Every turn looks another order up and reports 1,000 prompt and 100 completion tokens: $0.0012 a turn, more than
        // the chars/4 estimate of the short conversation (the estimate's error is what the cap may be passed by).
        for (var i = 0; i < 20; i++)
        {
            provider.Enqueue(ToolCallWire.OpenAiToolCall($"call_{i}", "lookup_order", new JsonObject { ["order_id"] = $"A-{i}" }, promptTokens: 1000, completionTokens: 100));
        }

        const decimal cap = 0.005m;
        var result = await Runner(OpenAiGateway(provider.ApiUrl), AgentServices.InMemory(allowPrivateNetworks: true))
            .RunAsync(Workflow("fakeai/gpt-4o-mini", tools.BaseUrl, """ "max_cost_usd": 0.005, "max_output_tokens": 100, "max_turns": 50, """),
                Question(), Options("run-cap"), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("max_cost_usd", (string?)result.Output!["stop_reason"]);
        var turns = (int)result.Output["turns"]!;
        Assert.Equal(provider.CallCount, turns);
        Assert.Equal(turns * 0.0012m, result.CostUsd);
        // Each turn was checked against its worst-case estimate first; the estimate misses the fake's usage by at most one
        // turn's cost, so the spend passes the cap by less than that and stops within it otherwise.
        Assert.True(result.CostUsd <= cap + 0.0012m, $"spent {result.CostUsd} against a cap of {cap}");
        Assert.True(result.CostUsd > cap - 2 * 0.0012m, $"stopped early at {result.CostUsd}");
    }

    [Fact]
    public async Task MaxTurnsAndMaxTokensEndTheLoopAndSayWhich()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        for (var i = 0; i < 10; i++)
        {
            provider.Enqueue(ToolCallWire.OpenAiToolCall($"call_{i}", "lookup_order", new JsonObject { ["order_id"] = $"A-{i}" }));
        }

        var runner = Runner(OpenAiGateway(provider.ApiUrl), AgentServices.InMemory(allowPrivateNetworks: true));
        var byTurns = await runner.RunAsync(Workflow("fakeai/gpt-4o-mini", tools.BaseUrl, """ "max_turns": 3, """), Question(), Options("run-turns"), ct);
        var callsBefore = provider.CallCount;
        var byTokens = await runner.RunAsync(Workflow("fakeai/gpt-4o-mini", tools.BaseUrl, """ "max_tokens": 1500, "max_output_tokens": 500, """),
            Question(), Options("run-tokens"), ct);

        Assert.Equal(("max_turns", 3, 3), ((string?)byTurns.Output!["stop_reason"], (int)byTurns.Output["turns"]!, callsBefore));
        Assert.Equal("max_tokens", (string?)byTokens.Output!["stop_reason"]);
        Assert.True(byTokens.InputTokens + byTokens.OutputTokens <= 1500, $"{byTokens.InputTokens + byTokens.OutputTokens} tokens");
    }

    [Fact]
    public async Task AToolNeedingApprovalParksWithTheProposedCallAndRunsOnceWithTheEditedArguments()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_r", "refund", new JsonObject { ["order_id"] = "A-17", ["amount_usd"] = 50 }));
        provider.Enqueue(ToolCallWire.OpenAiText("Refunded $40."));
        var agents = AgentServices.InMemory(allowPrivateNetworks: true);
        var workflow = Workflow("fakeai/gpt-4o-mini", tools.BaseUrl, refundNeedsApproval: true);

        var parked = await Runner(OpenAiGateway(provider.ApiUrl), agents).RunAsync(workflow, Question(), Options("run-approve"), ct);
        var inbox = new ScriptedInbox(new JsonObject { ["approved"] = true, ["arguments"] = new JsonObject { ["order_id"] = "A-17", ["amount_usd"] = 40 } });
        var resumed = await Runner(OpenAiGateway(provider.ApiUrl), agents).RunAsync(workflow, Question(),
            Options("run-approve") with { ResumedWait = parked.Wait, Signals = inbox }, ct);

        Assert.Equal(WorkflowRunStatus.Waiting, parked.Status);
        Assert.Equal(("approval", "approval", "call_r"), (parked.Wait!.Kind, parked.Wait.Event, (string?)parked.Wait.Approval!["call_id"]));
        Assert.Equal("refund", (string?)parked.Wait.Approval["show"]!["tool"]);
        Assert.Equal(50, (int)parked.Wait.Approval["show"]!["arguments"]!["amount_usd"]!);
        Assert.Equal(WorkflowRunStatus.Completed, resumed.Status);
        Assert.Equal("Refunded $40.", (string?)resumed.Output!["answer"]);
        var refund = Assert.Single(tools.Requests);
        Assert.Equal(40, (int)refund.Json!["amount_usd"]!);
        Assert.Equal(2, provider.CallCount); // the turn that proposed the call was not paid again
        Assert.Equal(["agent#0/call_r"], inbox.Claims);
    }

    [Fact]
    public async Task AProposedCallInAParallelBranchKeepsItsTimeAndLinksWhenASiblingsSignalWakesTheRun()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_r", "refund", new JsonObject { ["order_id"] = "A-17", ["amount_usd"] = 50 }));
        var agents = AgentServices.InMemory(allowPrivateNetworks: true);
        var agent = JsonNode.Parse(AgentStep("fakeai/gpt-4o-mini", tools.BaseUrl, refundNeedsApproval: true))!;
        var workflow = Engine.TestWorkflows.Parse(new JsonObject
        {
            ["name"] = "test",
            ["steps"] = new JsonArray(new JsonObject
            {
                ["id"] = "fan", ["type"] = "parallel", ["config"] = new JsonObject { ["branches"] = new JsonObject
                {
                    ["left"] = new JsonArray(agent),
                    ["right"] = JsonNode.Parse("""[{"id": "paid", "type": "wait_for_event", "config": {"event": "payment.received"}}]"""),
                } },
            }),
        }.ToJsonString());

        var parked = await Runner(OpenAiGateway(provider.ApiUrl), agents).RunAsync(workflow, Question(), Options("run-nested"), ct);
        var first = parked.Wait!.Pending!.Single(w => w.Kind == "approval");
        // Woken by the other branch's signal, before anyone decided the call: the call parks again on its own wait.
        var again = await Runner(OpenAiGateway(provider.ApiUrl), agents).RunAsync(workflow, Question(),
            Options("run-nested") with { ResumedWait = parked.Wait, Signals = new PaymentOnlyInbox() }, ct);

        Assert.Equal(WorkflowRunStatus.Waiting, again.Status);
        Assert.Equal(("approval", "call_r"), (again.Wait!.Kind, (string?)again.Wait.Approval!["call_id"]));
        Assert.Equal(first.Until, again.Wait.Until);
        Assert.Equal((string?)first.Approval!["nonce"], (string?)again.Wait.Approval["nonce"]);
        Assert.Equal(1, provider.CallCount); // the turn that proposed the call was not paid again
        Assert.Empty(tools.Requests);
    }

    /// <summary>An inbox holding only the other branch's payment signal.</summary>
    private sealed class PaymentOnlyInbox : ISignalInbox
    {
        public ValueTask<RunSignal?> TakeAsync(string runId, string eventName, string stepKey, CancellationToken cancellationToken) =>
            ValueTask.FromResult(eventName == "payment.received" ? new RunSignal(new JsonObject { ["paid"] = true }) : null);
    }

    [Fact]
    public async Task ARejectedCallIsNotRunAndTheModelIsTold()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        await using var tools = await FakeToolServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_r", "refund", new JsonObject { ["order_id"] = "A-17", ["amount_usd"] = 500 }));
        provider.Enqueue(ToolCallWire.OpenAiText("I cannot refund that."));
        var agents = AgentServices.InMemory(allowPrivateNetworks: true);
        var workflow = Workflow("fakeai/gpt-4o-mini", tools.BaseUrl, refundNeedsApproval: true);

        var parked = await Runner(OpenAiGateway(provider.ApiUrl), agents).RunAsync(workflow, Question(), Options("run-reject"), ct);
        var resumed = await Runner(OpenAiGateway(provider.ApiUrl), agents).RunAsync(workflow, Question(),
            Options("run-reject") with { ResumedWait = parked.Wait, Signals = new ScriptedInbox(new JsonObject { ["approved"] = false, ["comment"] = "too much" }) }, ct);

        Assert.Equal(WorkflowRunStatus.Completed, resumed.Status);
        Assert.Empty(tools.Requests);
        var told = provider.Requests[1].Json!["messages"]!.AsArray().Last()!;
        Assert.Equal("tool", (string)told["role"]!);
        Assert.Contains("too much", (string)told["content"]!, StringComparison.Ordinal);
    }

    /// <summary>The key the step must send: SHA-256 of job, step key, turn and call id.</summary>
    internal static string Key(string runId, string stepKey, int turn, string callId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{runId}\n{stepKey}\n{turn}\n{callId}")));
}
