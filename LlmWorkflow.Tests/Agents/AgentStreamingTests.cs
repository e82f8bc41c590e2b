using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Llm;
using static LlmWorkflow.Tests.Agents.AgentTestKit;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent step with <c>stream: true</c> against a fake OpenAI-compatible provider streaming Chat Completions chunks
/// (text, and tool calls in fragments): the turn recorded is the one an unstreamed call records, the text goes out as
/// coalesced <c>agent_delta</c>s before the turn's <c>agent_turn</c>, and a provider failing mid-stream is followed by
/// <c>agent_turn_restarted</c> and the fallback model's deltas, nothing of the failed attempt recorded (a stream that
/// stalls, the same: its timeout's retry on the same model restarts the turn); the offline mock streams its scripted turns.
/// </summary>
[IntegrationTest]
public sealed class AgentStreamingTests
{
    private static readonly string[] AnswerChunks = ["Order ", "A-17 ", "was ", "delivered ", "on ", "Tuesday", "."];

    [Fact]
    public async Task AStreamedLoopRecordsTheSameTurnsAsAnUnstreamedOneAndSendsItsTextFirst()
    {
        var ct = TestContext.Current.CancellationToken;
        var lookup = new JsonObject { ["order_id"] = "A-17" };
        await using var plainProvider = await FakeOpenAiServer.StartAsync();
        plainProvider.Enqueue(ToolCallWire.OpenAiToolCall("call_abc", "lookup_order", lookup));
        plainProvider.Enqueue(ToolCallWire.OpenAiText(string.Concat(AnswerChunks)));
        await using var streamingProvider = await FakeOpenAiServer.StartAsync();
        streamingProvider.Enqueue(FakeOpenAiStream.Answer([], [("call_abc", "lookup_order", lookup)]));
        streamingProvider.Enqueue(FakeOpenAiStream.Answer(AnswerChunks, chunkDelay: TimeSpan.FromMilliseconds(15)));
        await using var tools = await FakeToolServer.StartAsync();

        var (plain, plainTurns, _) = await RunAsync(plainProvider, tools, "run-plain", stream: false, ct);
        var (streamed, streamedTurns, events) = await RunAsync(streamingProvider, tools, "run-streamed", stream: true, ct);

        Assert.Equal(WorkflowRunStatus.Completed, streamed.Status);
        Assert.Equal(string.Concat(AnswerChunks), (string?)streamed.Output!["answer"]);
        Assert.All(streamingProvider.Requests, r => Assert.True(r.Json!["stream"]!.GetValue<bool>()));
        // Every turn is the same record either way (its messages by content address, usage, cost): the tool call rebuilt
        // from its streamed fragments is the call the whole answer carried.
        Assert.Equal(plainTurns.Select(Checkpoint), streamedTurns.Select(Checkpoint));
        Assert.Equal((plain.InputTokens, plain.OutputTokens, plain.CostUsd), (streamed.InputTokens, streamed.OutputTokens, streamed.CostUsd));
        // The streamed tool call ran once (one request per run), with the arguments the model streamed.
        Assert.Equal(["/orders/A-17", "/orders/A-17"], tools.Requests.Select(r => r.Path));

        Assert.DoesNotContain(events, e => e is AgentDeltaProgress { Turn: 0 });
        AssertDeltasPrecedeTheirTurn(events, 1, string.Concat(AnswerChunks));
        // Coalesced: fewer events than the provider's chunks (15 ms apart, a 50 ms window).
        Assert.True(events.OfType<AgentDeltaProgress>().Count(d => d.Turn == 1) < AnswerChunks.Length, "one delta per chunk");
        Assert.DoesNotContain(events, e => e is AgentTurnRestartedProgress);
    }

    [Fact]
    public async Task AProviderFailingMidStreamRestartsTheTurnOnTheFallbackAndOnlyItsAnswerIsRecorded()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var failing = await FakeOpenAiServer.StartAsync();
        failing.Enqueue(FakeOpenAiStream.BrokenAfter(["Order A-17 ", "is lo"], TimeSpan.FromMilliseconds(10)));
        await using var fallback = await FakeOpenAiServer.StartAsync();
        fallback.Enqueue(FakeOpenAiStream.Answer(AnswerChunks, chunkDelay: TimeSpan.FromMilliseconds(5)));
        var gateway = TestGateways.Create(TestGateways.Options(
            ("fakeai", new LlmProviderOptions { BaseUrl = failing.ApiUrl.ToString() }),
            ("fakeb", new LlmProviderOptions { BaseUrl = fallback.ApiUrl.ToString() })), prices: Prices);
        var agents = AgentServices.InMemory();
        var sink = new RecordingSink();
        var workflow = Engine.TestWorkflows.Parse("""
            {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {
              "model": ["fakeai/gpt-4o-mini", "fakeb/gpt-4o-mini"], "input": "${input.question}", "stream": true}}]}
            """);

        var result = await Runner(gateway, agents).RunAsync(workflow, Question(), Options("run-fallback", sink), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(string.Concat(AnswerChunks), (string?)result.Output!["answer"]);
        var turn = Assert.Single((await agents.Store.LoadAsync("run-fallback", "agent", ct)).Turns);
        Assert.Equal("fakeb/gpt-4o-mini", turn.Model);
        var live = sink.Events.Where(e => e is AgentDeltaProgress or AgentTurnRestartedProgress or AgentTurnProgress).ToList();
        var restart = Assert.Single(live.OfType<AgentTurnRestartedProgress>());
        Assert.Equal((0, 1, "Order A-17 is lo".Length), (restart.Turn, restart.Attempt, restart.DiscardedChars));
        var restartAt = live.IndexOf(restart);
        Assert.Equal("Order A-17 is lo", string.Concat(live.Take(restartAt).OfType<AgentDeltaProgress>().Select(d => d.Text)));
        Assert.All(live.Take(restartAt).OfType<AgentDeltaProgress>(), d => Assert.Equal(0, d.Attempt));
        var after = live.Skip(restartAt + 1).ToList();
        Assert.IsType<AgentTurnProgress>(after[^1]);
        Assert.All(after.SkipLast(1), e => Assert.Equal(1, Assert.IsType<AgentDeltaProgress>(e).Attempt));
        Assert.Equal(string.Concat(AnswerChunks), string.Concat(after.OfType<AgentDeltaProgress>().Select(d => d.Text)));
    }

    [Fact]
    public async Task AStreamThatStallsIsRetriedOnTheSameModelAfterARestartEvent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var provider = await FakeOpenAiServer.StartAsync();
        provider.Enqueue(FakeOpenAiStream.BrokenAfter(["Order A-17 ", "is lo"]) with { AbortAfterEvents = false, HangAfterEvents = true });
        provider.Enqueue(FakeOpenAiStream.Answer(AnswerChunks));
        var options = TestGateways.Options(("fakeai", new LlmProviderOptions { BaseUrl = provider.ApiUrl.ToString() }));
        options.AttemptTimeout = TimeSpan.FromSeconds(1);
        var agents = AgentServices.InMemory();
        var sink = new RecordingSink();
        var workflow = Engine.TestWorkflows.Parse("""
            {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {"model": "fakeai/gpt-4o-mini", "input": "${input.question}", "stream": true}}]}
            """);

        var result = await Runner(TestGateways.Create(options, prices: Prices), agents).RunAsync(workflow, Question(), Options("run-stall", sink), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(2, provider.CallCount);
        var restart = Assert.Single(sink.Events.OfType<AgentTurnRestartedProgress>());
        Assert.Equal((1, "Order A-17 is lo".Length), (restart.Attempt, restart.DiscardedChars));
        Assert.Equal(string.Concat(AnswerChunks), string.Concat(sink.Events.OfType<AgentDeltaProgress>().Where(d => d.Attempt == 1).Select(d => d.Text)));
        Assert.Equal("fakeai/gpt-4o-mini", Assert.Single((await agents.Store.LoadAsync("run-stall", "agent", ct)).Turns).Model);
    }

    [Fact]
    public async Task TheOfflineMockStreamsItsScriptedTurnsToolCallsIncluded()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = TestGateways.Options();
        options.Mock.Responses["test"] = new()
        {
            ["agent"] = """{"agent_turns": [{"text": "Echoing one for you.", "tool_calls": [{"name": "echo", "arguments": {"n": 1}}]}, {"text": "The echo said one."}]}""",
        };
        var agents = AgentServices.InMemory();
        var sink = new RecordingSink();
        var workflow = Engine.TestWorkflows.Parse("""
            {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {"model": "mock/agent", "input": "go", "stream": true,
              "tools": [{"name": "echo", "type": "transform", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
                         "config": {"operation": "merge", "inputs": [{"n": "${item.n}"}]}}]}}]}
            """);

        var result = await Runner(TestGateways.Create(options), agents).RunAsync(workflow, null, Options("run-mock", sink), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal(("The echo said one.", 2, 1), ((string?)result.Output!["answer"], (int)result.Output["turns"]!, (int)result.Output["tool_calls"]!));
        AssertDeltasPrecedeTheirTurn(sink.Events, 0, "Echoing one for you.");
        AssertDeltasPrecedeTheirTurn(sink.Events, 1, "The echo said one.");
    }

    private static async Task<(WorkflowRunResult Result, IReadOnlyList<AgentTurn> Turns, IReadOnlyList<ProgressEvent> Events)> RunAsync(
        FakeOpenAiServer provider, FakeToolServer tools, string runId, bool stream, CancellationToken ct)
    {
        var agents = AgentServices.InMemory(allowPrivateNetworks: true);
        var sink = new RecordingSink();
        var result = await Runner(OpenAiGateway(provider.ApiUrl), agents)
            .RunAsync(Workflow("fakeai/gpt-4o-mini", tools.BaseUrl, stream ? "\"stream\": true," : ""), Question(), Options(runId, sink), ct);
        Assert.True(result.Status == WorkflowRunStatus.Completed, result.Error?.Message);
        var state = await agents.Store.LoadAsync(runId, "agent", ct);
        return (result, [.. state.Turns.OrderBy(t => t.Turn)], sink.Events);
    }

    private static string Checkpoint(AgentTurn turn) =>
        $"{turn.Turn} {turn.BaseTurn} [{string.Join(',', turn.AddedHashes)}] {turn.ResponseHash} {turn.Model} {turn.InputTokens}/{turn.OutputTokens} {turn.CostUsd}";

    /// <summary>The turn's deltas spell its text, and every one of them comes before the turn's agent_turn.</summary>
    private static void AssertDeltasPrecedeTheirTurn(IReadOnlyList<ProgressEvent> events, int turn, string text)
    {
        var deltas = events.Select((e, i) => (Event: e as AgentDeltaProgress, Index: i)).Where(d => d.Event?.Turn == turn).ToList();
        Assert.Equal(text, string.Concat(deltas.Select(d => d.Event!.Text)));
        var completed = events.Select((e, i) => (e, i)).Single(x => x.e is AgentTurnProgress t && t.Turn == turn).i;
        Assert.All(deltas, d => Assert.True(d.Index < completed, $"a delta of turn {turn} came after its agent_turn"));
    }
}
