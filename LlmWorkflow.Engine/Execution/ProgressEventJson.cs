using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// The live event of each progress event: the shared <see cref="LiveJobEvent"/> record, serialized through the
/// source-generated <see cref="WireJsonContext"/> (snake_case like the rest of the API), so the worker that writes
/// events and the CLI that reads them use one definition.
/// </summary>
public static class ProgressEventJson
{
    /// <summary>The event as its wire record.</summary>
    public static LiveJobEvent ToWire(ProgressEvent e) => e switch
    {
        RunStarted s => new RunStartedEvent(s.RunId, s.Timestamp, s.WorkflowName, s.TotalSteps),
        StepStarted s => new StepStartedEvent(s.RunId, s.Timestamp, s.StepId, s.StepKey, s.DisplayName, s.Type, s.Index, s.Total, s.Percent, s.ParentStepId),
        StepCompleted s => ToWire(s),
        LlmDelta d => new LlmDeltaEvent(d.RunId, d.Timestamp, d.StepId, d.Text),
        LlmCallCompleted c => new LlmCallCompletedEvent(c.RunId, c.Timestamp, c.StepId, c.Result.Provider, c.Result.Model,
            c.Result.InputTokens, c.Result.OutputTokens, c.Result.CostUsd, c.Result.CacheHit),
        RunCompleted c => new RunCompletedEvent(c.RunId, c.Timestamp, c.CostUsd, c.TotalTokens),
        RunFailed f => new RunFailedEvent(f.RunId, f.Timestamp, JobErrors.ToJson(f.Error), f.Cancelled),
        RunWaiting w => new RunWaitingEvent(w.RunId, w.Timestamp, w.Wait.StepId, w.Wait.Kind, w.Wait.Until, w.Wait.Event,
            Provider: Llm.Admission.WaitReasons.Provider(w.Wait), Reason: Llm.Admission.WaitReasons.Reason(w.Wait)),
        // A capability module's own events (the agent step's) say what they are on the wire themselves.
        _ => e.ToWire() ?? new LiveJobEvent(e.RunId, e.Timestamp),
    };

    /// <summary>The event's JSON as UTF-8 bytes, the form the worker stores in Redis.</summary>
    public static byte[] ToUtf8(ProgressEvent e) => JsonSerializer.SerializeToUtf8Bytes(ToWire(e), WireJsonContext.Default.LiveJobEvent);

    /// <summary>The event's JSON as a node (the CLI's display reads it so).</summary>
    public static JsonObject ToJson(ProgressEvent e) => JsonSerializer.SerializeToNode(ToWire(e), WireJsonContext.Default.LiveJobEvent)!.AsObject();

    private static StepCompletedEvent ToWire(StepCompleted s)
    {
        var step = s.Record;
        return new StepCompletedEvent(s.RunId, s.Timestamp, step.StepId, step.StepKey, step.DisplayName, step.Status.ToWire(),
            step.DurationMs, step.Attempts, step.InputTokens, step.OutputTokens, step.CostUsd, step.Model, s.Percent, step.ParentStepId,
            step.Error is null ? null : JobErrors.ToJson(step.Error), step.Notes);
    }
}
