using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// Per-tool approval on the service's approval wait: a call to a tool with <c>requires_approval</c> parks the job
/// (an <c>approval</c> wait, no worker slot) whose page shows the proposed call — tool, arguments and the model's
/// reason — and whose signed links or <c>POST …/signals/approval</c> decide it. The ledger row says
/// <c>awaiting_approval</c> meanwhile, so a restart finds the same call waiting. A decision's body may carry
/// <c>arguments</c> (an object) to replace the model's; a rejection is told to the model as the tool's result.
/// </summary>
internal static class AgentApproval
{
    public const string EventName = ApprovalStepHandler.DefaultEvent;

    /// <summary>How long a proposed call waits for a decision unless the tool sets <c>approval_timeout_seconds</c>.</summary>
    public const double DefaultTimeoutSeconds = 7 * 24 * 3600;

    public sealed record Decision(JsonObject Arguments, JsonObject? Rejection);

    /// <summary>The decision on a call, taken from the job's signals; parks the run when there is none yet.</summary>
    public static async Task<Decision> DecideAsync(AgentLoop loop, int turn, AgentToolCall call, AgentToolEntry entry, CancellationToken cancellationToken)
    {
        if (entry.Status == AgentToolEntry.Approved)
        {
            return new Decision(entry.Arguments, null);
        }

        var context = loop.Context;
        // Each call claims its own signal: the step asks for many decisions over its loop, one per proposed call.
        var claimKey = $"{context.StepKey}#{turn}/{call.CallId}";
        if (entry.Status == AgentToolEntry.AwaitingApproval && context.Run.Signals is { } inbox && await inbox.TakeAsync(context.Run.RunId, EventName, claimKey, cancellationToken).ConfigureAwait(false) is { } signal)
        {
            var decision = ApprovalStepHandler.Decision(signal.Payload, context.Run.Now);
            if (decision["approved"]?.GetValue<bool>() == true)
            {
                var edited = (signal.Payload as JsonObject)?["arguments"] as JsonObject;
                return new Decision((JsonObject)(edited ?? entry.Arguments).DeepClone(), null);
            }

            return new Decision(entry.Arguments, new JsonObject
            {
                ["rejected"] = true,
                ["comment"] = decision["comment"]?.DeepClone(),
                ["message"] = "A person rejected this call; do not retry it unchanged.",
            });
        }

        // Its own wait, also when the step sits in a parallel branch and a sibling's wait woke the run: the call keeps the
        // time and the nonce (so the links already sent) it first parked with.
        var resumed = context.Run.ResumedWait?.Of(context.StepKey) is { Kind: ApprovalStepHandler.Kind } wait
            && (string?)wait.Approval?["call_id"] == call.CallId ? wait : null;
        var until = resumed?.Until ?? context.Run.Now.AddSeconds(TimeoutSeconds(loop, call));
        if (context.Run.Now >= until)
        {
            return new Decision(entry.Arguments, new JsonObject
            {
                ["rejected"] = true,
                ["message"] = $"No decision arrived by {until.ToString("O", CultureInfo.InvariantCulture)}; the call was not made.",
            });
        }

        await loop.Store.SetToolCallStatusAsync(context.Run.RunId, context.StepKey, turn, call.CallId, AgentToolEntry.AwaitingApproval, entry.Arguments, CancellationToken.None)
            .ConfigureAwait(false);
        throw new RunParkedException(new RunWait(context.Step.Id, context.StepKey, ApprovalStepHandler.Kind, until, EventName, new JsonObject
        {
            ["prompt"] = $"The agent wants to call \"{call.Name}\". Approve to run it, reject to tell the agent no.",
            ["show"] = new JsonObject { ["tool"] = call.Name, ["arguments"] = entry.Arguments.DeepClone(), ["reason"] = loop.LastAnswerText },
            ["nonce"] = (string?)resumed?.Approval?["nonce"] ?? Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(),
            ["call_id"] = call.CallId,
            ["claim_key"] = claimKey,
        }));
    }

    private static double TimeoutSeconds(AgentLoop loop, AgentToolCall call) =>
        loop.Tools.Definition(call.Name)?.Spec["approval_timeout_seconds"] is JsonValue value && value.TryGetValue<double>(out var seconds) && seconds > 0
            ? seconds
            : DefaultTimeoutSeconds;
}
