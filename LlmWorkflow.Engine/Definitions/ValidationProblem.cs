namespace LlmWorkflow.Engine.Definitions;

/// <summary>One problem in a workflow definition.</summary>
/// <param name="File">The definition file (or the workflow name when loaded from text).</param>
/// <param name="JsonPath">Where, e.g. <c>$.steps[2].config.model</c>.</param>
/// <param name="Code">Stable machine-readable code, e.g. <c>duplicate_step_id</c>.</param>
/// <param name="Hint">How to fix it.</param>
public sealed record ValidationProblem(string File, string JsonPath, string Code, string Message, string Hint)
{
    public override string ToString() => $"{File} {JsonPath}: [{Code}] {Message} Hint: {Hint}";
}
