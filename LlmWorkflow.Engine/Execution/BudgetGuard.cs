namespace LlmWorkflow.Engine.Execution;

/// <summary>Names of the budget stop, shared by the runner and the llm step.</summary>
public static class BudgetGuard
{
    public const string BudgetExceededType = "budget_exceeded";
}
