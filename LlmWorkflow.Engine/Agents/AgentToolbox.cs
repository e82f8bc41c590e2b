using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// The tools of one agent step and the ledger discipline around every call: the row is written (<c>started</c>, with
/// the call's idempotency key) before the tool runs and marked finished with its result after; a finished row's result
/// is reused as it is, and an unfinished one (its worker died mid-call) runs again with the same key.
/// </summary>
internal sealed class AgentToolbox(IReadOnlyDictionary<string, IAgentTool> tools, IReadOnlyDictionary<string, AgentToolDefinition> definitions)
{
    /// <summary>The definition a tool came from (an MCP server's tools share their source's).</summary>
    public AgentToolDefinition? Definition(string toolName) => definitions.GetValueOrDefault(toolName);

    public IList<AITool> Declarations { get; } = [.. tools.Values.Select(t => (AITool)t.Declaration)];

    /// <summary>What the declarations add to every prompt, by the chars/4 rule.</summary>
    public int DeclarationTokens { get; } = tools.Values.Sum(t => TokenEstimator.Estimate(t.Declaration.Name + t.Declaration.Description + t.Declaration.JsonSchema.GetRawText()));

    public IReadOnlyCollection<string> Names => [.. tools.Keys];

    /// <summary>
    /// Runs (or reads back) one call and returns the tool-result message the model gets, and the ledger row of
    /// <paramref name="next"/> (the turn's next call) when this call's finish began it.
    /// </summary>
    /// <param name="begun">This call's ledger row when the write before it began it; else it is begun here.</param>
    public async Task<(AgentMessage Result, AgentToolEntry? NextBegun)> RunAsync(
        AgentLoop loop, int turn, AgentToolCall call, AgentToolEntry? begun, AgentToolCall? next, CancellationToken cancellationToken)
    {
        var context = loop.Context;
        var (runId, stepKey) = (context.Run.RunId, context.StepKey);
        var entry = begun is { } row && row.Turn == turn && row.CallId == call.CallId
            ? row
            : await loop.Store.BeginToolCallAsync(runId, stepKey, loop.LedgerEntry(turn, call), cancellationToken).ConfigureAwait(false);
        if (entry.IsDone && entry.ResultHash is { } hash && loop.State.Messages.TryGetValue(hash, out var recorded))
        {
            loop.LogToolCall(turn, call.CallId, call.Name, entry.Status + " (recorded)");
            return (recorded, null);
        }

        if (!tools.TryGetValue(call.Name, out var tool))
        {
            return await FinishAsync(loop, turn, call, AgentToolEntry.Failed,
                Error("unknown_tool", $"There is no tool \"{call.Name}\"; the tools are: {string.Join(", ", tools.Keys)}."), next, cancellationToken).ConfigureAwait(false);
        }

        var arguments = entry.Arguments;
        if (tool.RequiresApproval)
        {
            var decision = await AgentApproval.DecideAsync(loop, turn, call, entry, cancellationToken).ConfigureAwait(false);
            if (decision.Rejection is { } rejection)
            {
                return await FinishAsync(loop, turn, call, AgentToolEntry.Rejected, rejection, next, cancellationToken).ConfigureAwait(false);
            }

            arguments = decision.Arguments;
            if (entry.Status != AgentToolEntry.Approved)
            {
                await loop.Store.SetToolCallStatusAsync(runId, stepKey, turn, call.CallId, AgentToolEntry.Approved, arguments, CancellationToken.None).ConfigureAwait(false);
            }
        }

        using var span = AgentTelemetry.ExecuteTool(context, call, entry.IdempotencyKey);
        await AgentEvents.ToolCallAsync(context, turn, call, arguments, cancellationToken).ConfigureAwait(false);
        JsonNode? result;
        string status;
        try
        {
            var scope = context.Scope.WithItem(arguments, turn);
            result = await tool.InvokeAsync(new AgentToolInvocation(arguments, entry.IdempotencyKey, scope), cancellationToken).ConfigureAwait(false);
            status = AgentToolEntry.Finished;
        }
        catch (Exception failure) when (failure is not OperationCanceledException && failure is not RunParkedException)
        {
            // The model is told and may try something else; the ledger keeps the failure so a resume does not retry it.
            result = Error(failure is WorkflowException known ? known.Error.Type : "tool_failed", failure.Message);
            status = AgentToolEntry.Failed;
            span?.SetTag("error.type", failure.GetType().Name);
        }

        return await FinishAsync(loop, turn, call, status, result, next, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<(AgentMessage Result, AgentToolEntry? NextBegun)> FinishAsync(
        AgentLoop loop, int turn, AgentToolCall call, string status, JsonNode? result, AgentToolCall? next, CancellationToken cancellationToken)
    {
        var context = loop.Context;
        var message = AgentMessage.From(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, result?.ToJsonString() ?? "null")]));
        // Done is done: the ledger row is written even if the run is being cancelled, so the call is never made again.
        // The next call's row is begun in the same write (one round trip per call, not two).
        var nextBegun = await loop.Store.FinishToolCallAsync(context.Run.RunId, context.StepKey, turn, call.CallId, status, message,
            next is null ? null : loop.LedgerEntry(turn, next), CancellationToken.None).ConfigureAwait(false);
        loop.LogToolCall(turn, call.CallId, call.Name, status);
        await AgentEvents.ToolResultAsync(context, turn, call, status, result, cancellationToken).ConfigureAwait(false);
        return (message, nextBegun);
    }

    private static JsonObject Error(string type, string message) => new() { ["error"] = new JsonObject { ["type"] = type, ["message"] = message } };
}
