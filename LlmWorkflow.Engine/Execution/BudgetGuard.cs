using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>The budget stop: an llm step is not started when spent + its worst-case cost would exceed max_cost_usd.</summary>
public static class BudgetGuard
{
    public const string BudgetExceededType = "budget_exceeded";

    public static WorkflowException Exceeded(string stepId, decimal spentUsd, decimal estimateUsd, decimal maxCostUsd) => new(new WorkflowError
    {
        Type = BudgetExceededType,
        Category = ErrorCategory.UserError,
        Message = $"Step \"{stepId}\" could cost up to ${estimateUsd:0.######}; with ${spentUsd:0.######} already spent that exceeds the budget of ${maxCostUsd:0.######}.",
        StepId = stepId,
        Details = new JsonObject
        {
            ["spent_usd"] = spentUsd,
            ["estimated_step_cost_usd"] = estimateUsd,
            ["max_cost_usd"] = maxCostUsd,
        },
    });
}
