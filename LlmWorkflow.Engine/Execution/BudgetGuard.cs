using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// The budget stop: an llm step is not started when spent + its worst-case cost (with <c>budget_check: remaining</c>,
/// plus the job's remaining forecast) would exceed max_cost_usd.
/// </summary>
public static class BudgetGuard
{
    public const string BudgetExceededType = "budget_exceeded";

    public static WorkflowException Exceeded(string stepId, decimal spentUsd, StepForecast forecast, decimal maxCostUsd) => new(new WorkflowError
    {
        Type = BudgetExceededType,
        Category = ErrorCategory.UserError,
        Message = $"Step \"{stepId}\" could cost up to ${forecast.StepUsd:0.######}{Rest(forecast)}; the job's budget of ${maxCostUsd:0.######} has " +
                  $"${Math.Max(0, maxCostUsd - spentUsd):0.######} left (${spentUsd:0.######} spent or reserved), so the job stops before the step" +
                  $"{Check(forecast)}.",
        StepId = stepId,
        Details = WithForecast(new JsonObject
        {
            ["spent_usd"] = spentUsd,
            ["estimated_step_cost_usd"] = forecast.StepUsd,
            ["max_cost_usd"] = maxCostUsd,
            ["remaining_usd"] = Math.Max(0, maxCostUsd - spentUsd),
        }, forecast),
    });

    /// <summary>A tenant's or user's dollar budget (Tenants:&lt;id&gt;:Budgets) has no room for the step's forecast.</summary>
    public static WorkflowException TenantExceeded(string stepId, Llm.Budgets.SpendVerdict verdict, StepForecast forecast, string onBudget)
    {
        var remaining = Math.Max(0, verdict.LimitUsd - verdict.SpentUsd);
        var why = verdict.Until is null
            ? forecast.ChecksRemaining ? "the forecast alone is more than the whole budget" : "the step alone costs more than the whole budget"
            : $"it has room again at {verdict.Until:O}";
        return new(new WorkflowError
        {
            Type = BudgetExceededType,
            Category = ErrorCategory.UserError,
            Message = $"Step \"{stepId}\" is forecast to cost ${forecast.StepUsd:0.######}{Rest(forecast)}; the budget {verdict.Scope} of ${verdict.LimitUsd:0.######} has " +
                      $"${remaining:0.######} left (${verdict.SpentUsd:0.######} spent or reserved in its window), so the job stops before the step " +
                      $"(on_budget: {onBudget}{(forecast.ChecksRemaining ? ", budget_check: remaining" : "")}; {why}).",
            StepId = stepId,
            Details = WithForecast(new JsonObject
            {
                ["budget"] = verdict.Scope,
                ["limit_usd"] = verdict.LimitUsd,
                ["spent_usd"] = verdict.SpentUsd,
                ["remaining_usd"] = remaining,
                ["estimated_step_cost_usd"] = forecast.StepUsd,
                ["on_budget"] = onBudget,
                ["fits_at"] = verdict.Until?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            }, forecast),
        });
    }

    /// <summary>Adds the job's remaining forecast and which check applied to a budget error's or wait's details.</summary>
    public static JsonObject WithForecast(JsonObject details, StepForecast forecast)
    {
        if (forecast.RemainingUsd is { } rest)
        {
            details["remaining_forecast_usd"] = rest;
        }

        details["budget_check"] = forecast.Check;
        return details;
    }

    private static string Rest(StepForecast forecast) =>
        forecast.RemainingUsd is { } rest ? $" and the llm steps after it ${rest:0.######}" : "";

    private static string Check(StepForecast forecast) =>
        forecast.ChecksRemaining ? " (budget_check: remaining: the step and the rest of the job must fit)" : "";
}
