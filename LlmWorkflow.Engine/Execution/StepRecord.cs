using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>The outcome of one step execution, as stored in the job's step records and sent in progress events.</summary>
public sealed record StepRecord
{
    /// <summary>Unique within the run: the step id, prefixed with <c>forEachId[index]/</c> inside for_each iterations.</summary>
    public required string StepKey { get; init; }

    public required string StepId { get; init; }

    public required string DisplayName { get; init; }

    public required string Type { get; init; }

    public required StepStatus Status { get; init; }

    /// <summary>How many times the step ran (more than 1 only with retries); 0 when skipped.</summary>
    public int Attempts { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset FinishedAt { get; init; }

    public double DurationMs { get; init; }

    /// <summary>The output, replaced by <c>{"truncated": true, "size_bytes": n}</c> above <see cref="StepOutputCap.MaxBytes"/>.</summary>
    public JsonNode? Output { get; init; }

    public WorkflowError? Error { get; init; }

    /// <summary>What the step was given: its resolved params, template variables or transform config (<see cref="StepInputCapture.Input"/>).</summary>
    public JsonNode? Input { get; init; }

    /// <summary>An llm step's messages as sent, one <c>[role]</c> block each (<see cref="StepInputCapture.Prompt"/>); null for other steps.</summary>
    public string? RenderedPrompt { get; init; }

    /// <summary>The control-flow step this step ran inside; null at top level.</summary>
    public string? ParentStepId { get; init; }

    /// <summary>The block inside the parent: then, else, a parallel branch id, or the for_each item index.</summary>
    public string? Branch { get; init; }

    /// <summary>True when the result came from a checkpoint of an earlier attempt at the run.</summary>
    public bool FromCheckpoint { get; init; }

    public int? InputTokens { get; init; }

    public int? OutputTokens { get; init; }

    /// <summary>USD; null for non-LLM steps and unpriced models.</summary>
    public decimal? CostUsd { get; init; }

    public string? Provider { get; init; }

    public string? Model { get; init; }

    /// <summary>What the service changed about the step's output before storing it (e.g. NUL characters removed); null when nothing.</summary>
    public string? Notes { get; init; }
}
