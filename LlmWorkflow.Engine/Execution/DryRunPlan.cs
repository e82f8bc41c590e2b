using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Execution;

/// <summary>What a run would do and cost, computed without calling any model or service.</summary>
public sealed record DryRunPlan
{
    public required IReadOnlyList<ValidationProblem> Problems { get; init; }

    public required IReadOnlyList<InputProblem> InputProblems { get; init; }

    /// <summary>Every step, both branches of conditionals included, depth first in document order.</summary>
    public required IReadOnlyList<DryRunStep> Steps { get; init; }

    /// <summary>Cheapest path: the cheaper branch of each conditional, minimal answers.</summary>
    public decimal MinCostUsd { get; init; }

    /// <summary>Typical answers; conditional branches averaged.</summary>
    public decimal ExpectedCostUsd { get; init; }

    /// <summary>Worst case: the dearer branch of each conditional, every answer at max_tokens.</summary>
    public decimal MaxCostUsd { get; init; }

    /// <summary>Models without a price; their calls are missing from the totals.</summary>
    public required IReadOnlyList<string> UnpricedModels { get; init; }

    public bool IsValid => Problems.Count == 0 && InputProblems.Count == 0;
}
