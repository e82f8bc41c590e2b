using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Llm.Budgets;

/// <summary>
/// The workflow's <c>on_budget</c>: what an llm step does when its forecast cost does not fit the tenant's or the
/// user's dollar budget. Checked when the definition is read, so a wrong value is refused with the field named.
/// </summary>
public static class OnBudget
{
    public const string Fail = "fail";
    public const string Downgrade = "downgrade";
    public const string Wait = "wait";

    /// <summary>Park the job for a person's decision (an approval wait, decision links showing the forecast): run over budget, or fail.</summary>
    public const string WaitForApproval = "wait_for_approval";

    public const string InvalidCode = "invalid_on_budget";

    private static readonly string[] Values = [Fail, Downgrade, Wait, WaitForApproval];

    /// <summary>The workflow's choice, <c>fail</c> when it makes none.</summary>
    public static string Of(WorkflowDefinition workflow) => workflow.OnBudget ?? Fail;

    /// <summary>Problems with <c>on_budget</c> and <c>downgrade_model</c> (empty when they are valid).</summary>
    public static IEnumerable<ValidationProblem> Problems(WorkflowDefinition workflow, string source)
    {
        if (workflow.OnBudget is { } value && !Values.Contains(value, StringComparer.Ordinal))
        {
            yield return new(source, "$.on_budget", InvalidCode,
                $"on_budget must be one of {string.Join(", ", Values)}; got \"{value}\".",
                "Use fail (the default), downgrade with downgrade_model, wait, or wait_for_approval.");
        }

        if (workflow.OnBudget == Downgrade && !ModelId.TryParse(workflow.DowngradeModel ?? "", out _))
        {
            yield return new(source, "$.downgrade_model", InvalidCode,
                "on_budget downgrade needs downgrade_model, the cheaper provider/model the step runs on.",
                "Set e.g. \"downgrade_model\": \"openai/gpt-4o-mini\".");
        }

        if (workflow.DowngradeModel is not null && workflow.OnBudget != Downgrade)
        {
            yield return new(source, "$.downgrade_model", InvalidCode,
                "downgrade_model is used only with \"on_budget\": \"downgrade\".",
                "Set on_budget to downgrade or remove downgrade_model.");
        }
    }
}
