using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Llm.Budgets;

/// <summary>
/// The workflow's <c>budget_check</c>: what must fit a budget (the job's <c>budget_usd</c>/<c>max_cost_usd</c>, the
/// tenant's and user's dollar budgets) before a paid llm step. Checked when the definition is read.
/// </summary>
public static class BudgetCheck
{
    /// <summary>The step's own forecast (the default): a job runs until the step it cannot afford.</summary>
    public const string Step = "step";

    /// <summary>The step's forecast plus the job's remaining forecast: the job stops before a step after which the rest would not fit.</summary>
    public const string Remaining = "remaining";

    public const string InvalidCode = "invalid_budget_check";

    private static readonly string[] Values = [Step, Remaining];

    /// <summary>Whether the workflow asks for the whole remaining forecast to fit.</summary>
    public static bool ChecksRemaining(WorkflowDefinition workflow) => workflow.BudgetCheck == Remaining;

    /// <summary>Problems with <c>budget_check</c> (empty when it is valid or absent).</summary>
    public static IEnumerable<ValidationProblem> Problems(WorkflowDefinition workflow, string source)
    {
        if (workflow.BudgetCheck is { } value && !Values.Contains(value, StringComparer.Ordinal))
        {
            yield return new(source, "$.budget_check", InvalidCode,
                $"budget_check must be one of {string.Join(", ", Values)}; got \"{value}\".",
                "Use step (the default: each llm step's own forecast must fit) or remaining (the step's forecast plus the rest of the job's).");
        }
    }
}
