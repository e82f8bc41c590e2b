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
        Message = $"Step \"{stepId}\" could cost up to ${estimateUsd:0.######}; the job's budget of ${maxCostUsd:0.######} has ${Math.Max(0, maxCostUsd - spentUsd):0.######} left " +
                  $"(${spentUsd:0.######} spent or reserved), so the job stops before the step.",
        StepId = stepId,
        Details = new JsonObject
        {
            ["spent_usd"] = spentUsd,
            ["estimated_step_cost_usd"] = estimateUsd,
            ["max_cost_usd"] = maxCostUsd,
            ["remaining_usd"] = Math.Max(0, maxCostUsd - spentUsd),
        },
    });

    /// <summary>A tenant's or user's dollar budget (Tenants:&lt;id&gt;:Budgets) has no room for the step's forecast.</summary>
    public static WorkflowException TenantExceeded(string stepId, Llm.Budgets.SpendVerdict verdict, decimal estimateUsd, string onBudget)
    {
        var remaining = Math.Max(0, verdict.LimitUsd - verdict.SpentUsd);
        var why = verdict.Until is null
            ? "the step alone costs more than the whole budget"
            : $"it has room again at {verdict.Until:O}";
        return new(new WorkflowError
        {
            Type = BudgetExceededType,
            Category = ErrorCategory.UserError,
            Message = $"Step \"{stepId}\" is forecast to cost ${estimateUsd:0.######}; the budget {verdict.Scope} of ${verdict.LimitUsd:0.######} has " +
                      $"${remaining:0.######} left (${verdict.SpentUsd:0.######} spent or reserved in its window), so the job stops before the step " +
                      $"(on_budget: {onBudget}; {why}).",
            StepId = stepId,
            Details = new JsonObject
            {
                ["budget"] = verdict.Scope,
                ["limit_usd"] = verdict.LimitUsd,
                ["spent_usd"] = verdict.SpentUsd,
                ["remaining_usd"] = remaining,
                ["estimated_step_cost_usd"] = estimateUsd,
                ["on_budget"] = onBudget,
                ["fits_at"] = verdict.Until?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            },
        });
    }
}
