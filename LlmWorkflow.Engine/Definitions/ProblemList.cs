namespace LlmWorkflow.Engine.Definitions;

/// <summary>Collects validation problems for one file.</summary>
internal sealed class ProblemList(string file)
{
    private readonly List<ValidationProblem> _problems = [];

    public IReadOnlyList<ValidationProblem> Items => _problems;

    public void Add(string jsonPath, string code, string message, string hint) =>
        _problems.Add(new ValidationProblem(file, jsonPath, code, message, hint));
}
