using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Something that happened during a run, for SSE, dashboards and usage accounting. <see cref="Kind"/> is the wire
/// name: run_started, step_started, step_completed, llm_delta, llm_call_completed, run_completed, run_failed.
/// </summary>
public abstract record ProgressEvent(string RunId, DateTimeOffset Timestamp)
{
    public abstract string Kind { get; }

    /// <summary>
    /// The wire record of an event a capability module adds (the agent step's turns and tool calls), so the engine's
    /// own mapping (<see cref="ProgressEventJson"/>) names no module; null for the engine's events.
    /// </summary>
    public virtual Contracts.LiveJobEvent? ToWire() => null;
}

/// <param name="TotalSteps">Number of top-level steps, the denominator of the percentages.</param>
public sealed record RunStarted(string RunId, DateTimeOffset Timestamp, string WorkflowName, int TotalSteps)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "run_started";
}

/// <param name="Index">0-based index of the top-level step this step belongs to.</param>
/// <param name="Percent">Share of top-level steps finished before this one, 0-100.</param>
public sealed record StepStarted(
    string RunId,
    DateTimeOffset Timestamp,
    string StepId,
    string StepKey,
    string DisplayName,
    string Type,
    int Index,
    int Total,
    int Percent,
    string? ParentStepId)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "step_started";
}

/// <param name="Percent">Share of top-level steps finished, counting this one when it is top-level.</param>
public sealed record StepCompleted(string RunId, DateTimeOffset Timestamp, StepRecord Record, int Percent)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "step_completed";
}

/// <summary>A piece of streamed LLM text (steps with <c>stream: true</c>).</summary>
public sealed record LlmDelta(string RunId, DateTimeOffset Timestamp, string StepId, string Text)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "llm_delta";
}

/// <summary>One answered LLM call; the pipeline records it as an <c>llm_provider_usage</c> row.</summary>
public sealed record LlmCallCompleted(string RunId, DateTimeOffset Timestamp, string StepId, LlmCallResult Result)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "llm_call_completed";

    /// <summary>The step's key (unique per foreach iteration), so the usage row is written with that step's record.</summary>
    public string? StepKey { get; init; }

    /// <summary>
    /// True when the call's usage row was already written with the step's own checkpoint of the call (an agent turn's,
    /// in the turn's transaction): the job's sink then writes none.
    /// </summary>
    public bool UsageRecorded { get; init; }
}

public sealed record RunCompleted(string RunId, DateTimeOffset Timestamp, JsonNode? Output, decimal? CostUsd, int TotalTokens)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "run_completed";
}

/// <param name="Cancelled">True when the run was cancelled rather than failed.</param>
public sealed record RunFailed(string RunId, DateTimeOffset Timestamp, WorkflowError Error, bool Cancelled)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "run_failed";
}

/// <summary>The run parked at <paramref name="Wait"/> (a sleep or a wait for a signal); it resumes from its checkpoints.</summary>
public sealed record RunWaiting(string RunId, DateTimeOffset Timestamp, RunWait Wait)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => "run_waiting";
}
