using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Engine.Execution;

/// <summary>Everything a run produced: status, output, error, step records and usage totals (the documents' <c>cost_data</c>).</summary>
public sealed record WorkflowRunResult
{
    public required WorkflowRunStatus Status { get; init; }

    /// <summary>The resolved <c>output</c> template; null unless completed.</summary>
    public JsonNode? Output { get; init; }

    /// <summary>What the run waits for when <see cref="Status"/> is <see cref="WorkflowRunStatus.Waiting"/>.</summary>
    public RunWait? Wait { get; init; }

    public WorkflowError? Error { get; init; }

    /// <summary>Records in the order steps finished; kept also when the run failed (partial results).</summary>
    public required IReadOnlyList<StepRecord> Steps { get; init; }

    public int InputTokens { get; init; }

    public int OutputTokens { get; init; }

    public int TotalTokens => InputTokens + OutputTokens;

    /// <summary>Sum of the priced LLM calls in USD; null when no call was priced (none made, or all unpriced).</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>At least one LLM call used a model without a price, so <see cref="CostUsd"/> is a lower bound.</summary>
    public bool Unpriced { get; init; }

    /// <summary>Provider of the last LLM call that answered.</summary>
    public string? Provider { get; init; }

    /// <summary><c>provider/model</c> of the last LLM call that answered.</summary>
    public string? Model { get; init; }

    /// <summary>The same usage per <c>provider/model</c>, in first-use order.</summary>
    public IReadOnlyList<ModelCost> Models { get; init; } = [];

    /// <summary>The priced calls at their list (standard) prices: above <see cref="CostUsd"/> by what cheaper tiers saved.</summary>
    public decimal? ListCostUsd { get; init; }

    /// <summary>The tier the job asked for when not standard (flex); null for standard jobs.</summary>
    public string? RequestedServiceTier { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset FinishedAt { get; init; }

    public double DurationMs => (FinishedAt - StartedAt).TotalMilliseconds;
}
