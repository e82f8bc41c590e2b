namespace LlmWorkflow.Engine.Definitions;

/// <summary>Thrown when the definitions directory holds invalid workflows; the message lists every problem.</summary>
public sealed class WorkflowCatalogException(IReadOnlyList<ValidationProblem> problems)
    : Exception($"Invalid workflow definitions ({problems.Count} problem(s)):{Environment.NewLine}" +
                string.Join(Environment.NewLine, problems.Select(p => "  " + p)))
{
    public IReadOnlyList<ValidationProblem> Problems { get; } = problems;
}
