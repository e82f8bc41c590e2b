using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Engine.Agents;

/// <summary>An agent turn answered: what it cost and which tools it asked for (SSE <c>agent_turn</c>).</summary>
public sealed record AgentTurnProgress(
    string RunId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, string Model, int InputTokens, int OutputTokens, decimal? CostUsd,
    IReadOnlyList<string> ToolCalls) : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "agent_turn";

    public override LiveJobEvent ToWire() => new AgentTurnEvent(RunId, Timestamp, StepId, StepKey, Turn, Model, InputTokens, OutputTokens, CostUsd, ToolCalls);
}

/// <summary>A tool call starting (<c>agent_tool_call</c>, status <c>calling</c>) or its result (<c>agent_tool_result</c>).</summary>
public sealed record AgentToolProgress(
    string RunId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, string CallId, string Tool, string Status, JsonNode? Detail)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => Status == "calling" ? "agent_tool_call" : "agent_tool_result";

    public override LiveJobEvent ToWire() => Status == "calling"
        ? new AgentToolEvent(RunId, Timestamp, StepId, StepKey, Turn, CallId, Tool, Detail)
        : new AgentToolResultEvent(RunId, Timestamp, StepId, StepKey, Turn, CallId, Tool, Status, Detail);
}

/// <summary>The agent loop's live events, through the job's own progress sink (its SSE stream).</summary>
internal static class AgentEvents
{
    /// <summary>The most of a tool's arguments or result an event carries; the ledger keeps it whole.</summary>
    private const int MaxDetailChars = 4096;

    public static ValueTask TurnAsync(StepContext context, AgentTurn turn, AgentMessage answer, CancellationToken cancellationToken) =>
        context.Run.Progress.PublishAsync(new AgentTurnProgress(context.Run.RunId, context.Run.Now, context.Step.Id, context.StepKey, turn.Turn, turn.Model,
            turn.InputTokens, turn.OutputTokens, turn.CostUsd, [.. answer.Calls().Select(c => c.Name)]), cancellationToken);

    public static ValueTask ToolCallAsync(StepContext context, int turn, AgentToolCall call, JsonObject arguments, CancellationToken cancellationToken) =>
        context.Run.Progress.PublishAsync(new AgentToolProgress(context.Run.RunId, context.Run.Now, context.Step.Id, context.StepKey, turn, call.CallId,
            call.Name, "calling", Cut(arguments)), cancellationToken);

    public static ValueTask ToolResultAsync(StepContext context, int turn, AgentToolCall call, string status, JsonNode? result, CancellationToken cancellationToken) =>
        context.Run.Progress.PublishAsync(new AgentToolProgress(context.Run.RunId, context.Run.Now, context.Step.Id, context.StepKey, turn, call.CallId,
            call.Name, status, Cut(result)), cancellationToken);

    private static JsonNode? Cut(JsonNode? value)
    {
        var text = value?.ToJsonString();
        return text is null || text.Length <= MaxDetailChars ? value?.DeepClone() : JsonValue.Create(text[..MaxDetailChars] + " …");
    }
}
