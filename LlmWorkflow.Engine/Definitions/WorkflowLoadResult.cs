namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// What the loader produced: the definition when the file had the right shape (possibly with problems in nested
/// control-flow configs, so the validator can still report the rest), and every parse problem found.
/// </summary>
public sealed record WorkflowLoadResult(WorkflowDefinition? Definition, IReadOnlyList<ValidationProblem> Problems)
{
    public bool Succeeded => Definition is not null && Problems.Count == 0;
}
