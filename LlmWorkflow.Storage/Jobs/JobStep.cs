using System.Text.Json;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>A row of <c>llm_job_steps</c>: one attempt of one step (the engine's step record, durable).</summary>
public sealed class JobStep
{
    public Guid Id { get; set; }

    public Guid JobId { get; set; }

    /// <summary>Unique within a run: the step id, or <c>id[index]</c> inside a for_each iteration.</summary>
    public string StepKey { get; set; } = "";

    /// <summary>The job's attempt (claim) that ran this step; a resumed job adds rows under its next attempt.</summary>
    public int JobAttempt { get; set; } = 1;

    public string StepId { get; set; } = "";

    public string? ParentStepId { get; set; }

    /// <summary>Inside a control-flow step: then/else, the parallel branch id or the for_each index.</summary>
    public string? Branch { get; set; }

    public string DisplayName { get; set; } = "";

    public string StepType { get; set; } = "";

    public string Status { get; set; } = "";

    public int Attempts { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public int? DurationMs { get; set; }

    public JsonDocument? Output { get; set; }

    public JsonDocument? Error { get; set; }

    /// <summary>What the step was given (resolved params or template variables), secrets redacted, capped by <see cref="Execution.StepInputCapture"/>.</summary>
    public JsonDocument? Input { get; set; }

    /// <summary>An llm step's messages as sent, one <c>[role]</c> block each, capped; null for other steps.</summary>
    public string? RenderedPrompt { get; set; }

    public string? Provider { get; set; }

    public string? Model { get; set; }

    public int InputTokens { get; set; }

    public int OutputTokens { get; set; }

    public decimal? CostUsd { get; set; }

    /// <summary>True when this record is a checkpoint a resumed run may reuse instead of re-running the step.</summary>
    public bool IsCheckpoint { get; set; }

    /// <summary>What the service changed about the output before storing it (e.g. NUL characters removed).</summary>
    public string? Notes { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>In a fork: the source job this checkpoint was copied from (reused, not paid again); null for a step run here.</summary>
    public Guid? ReusedFromJobId { get; set; }
}
