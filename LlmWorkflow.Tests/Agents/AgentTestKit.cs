using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;
using LlmWorkflow.Tests.Llm;

namespace LlmWorkflow.Tests.Agents;

/// <summary>Builds agent workflows, gateways over the fake providers and runners ("hosts") for the agent tests.</summary>
internal static class AgentTestKit
{
    public const string AnthropicKey = "sk-ant-test-0123456789";

    /// <summary>$1 per million input tokens, $2 per million output tokens for both fake providers.</summary>
    public static readonly DictionaryPriceTable Prices = new(new()
    {
        ["fakeai/gpt-4o-mini"] = new ModelPrice(1m, 2m),
        ["anthropic/claude-sonnet-4-5"] = new ModelPrice(1m, 2m),
    });

    public static ILlmGateway OpenAiGateway(Uri apiUrl) =>
        TestGateways.Create(TestGateways.Options(("fakeai", new LlmProviderOptions { BaseUrl = apiUrl.ToString() })), prices: Prices);

    public static ILlmGateway AnthropicGateway(Uri baseUrl) =>
        TestGateways.Create(TestGateways.Options(("anthropic", new LlmProviderOptions { BaseUrl = baseUrl.ToString() })),
            new Dictionary<string, string> { ["ANTHROPIC_API_KEY"] = AnthropicKey }, prices: Prices);

    public static WorkflowRunner Runner(ILlmGateway gateway, AgentServices agents) =>
        new(TransformRegistry.CreateDefault(), gateway, prices: Prices, modules: [new AgentStepModule(agents)]);

    /// <summary>An agent workflow named <c>test</c> with one step <c>agent</c>; <paramref name="extraConfig"/> is spliced into its config.</summary>
    public static WorkflowDefinition Workflow(string model, Uri toolServer, string extraConfig = "", bool refundNeedsApproval = false) =>
        Engine.TestWorkflows.Parse($$"""{"name": "test", "steps": [{{AgentStep(model, toolServer, extraConfig, refundNeedsApproval)}}]}""");

    /// <summary>The step <c>agent</c> of <see cref="Workflow"/>, as JSON, for workflows that place it elsewhere.</summary>
    public static string AgentStep(string model, Uri toolServer, string extraConfig = "", bool refundNeedsApproval = false) =>
        $$$$$"""
            {"id": "agent", "type": "agent", "config": {
              "model": "{{{{{model}}}}}",
              "instructions": "You are a support agent. Look orders up before answering.",
              "input": "${input.question}",
              {{{{{extraConfig}}}}}
              "tools": [
                {"name": "lookup_order", "type": "http", "description": "Looks an order up by id.", "method": "GET", "url": "{{{{{toolServer}}}}}orders/{order_id}",
                 "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}},
                {"name": "refund", "type": "http", "description": "Refunds an order.", "method": "POST", "url": "{{{{{toolServer}}}}}refunds",
                 "requires_approval": {{{{{(refundNeedsApproval ? "true" : "false")}}}}},
                 "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "amount_usd": {"type": "number"}}}},
                {"name": "read_page", "type": "http", "description": "Reads a page.", "method": "GET", "url": "{{{{{toolServer}}}}}pages/{n}",
                 "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}
              ]}}
            """;

    public static WorkflowRunOptions Options(string runId, IProgressSink? progress = null) => new() { RunId = runId, Progress = progress };

    public static JsonObject Question(string text = "Where is order A-17?") => new() { ["question"] = text };
}

/// <summary>Collects a run's progress events; can cancel the run when one matches.</summary>
internal sealed class RecordingSink(Func<ProgressEvent, bool>? cancelWhen = null, CancellationTokenSource? cancel = null) : IProgressSink
{
    private readonly ConcurrentQueue<ProgressEvent> _events = new();

    public IReadOnlyList<ProgressEvent> Events => [.. _events];

    public ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        _events.Enqueue(progressEvent);
        if (cancelWhen?.Invoke(progressEvent) == true)
        {
            cancel?.Cancel();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>A job inbox holding one decision per claim, handed out again to the same claimant.</summary>
internal sealed class ScriptedInbox(JsonNode? decision) : ISignalInbox
{
    public List<string> Claims { get; } = [];

    public ValueTask<RunSignal?> TakeAsync(string runId, string eventName, string stepKey, CancellationToken cancellationToken)
    {
        Claims.Add(stepKey);
        return ValueTask.FromResult<RunSignal?>(eventName == "approval" ? new RunSignal(decision?.DeepClone()) : null);
    }
}
