namespace LlmWorkflow.Engine.Transforms;

/// <summary>A problem in a transform's config found without running it.</summary>
/// <param name="JsonPath">Relative to the step's config, e.g. <c>$.fields</c>.</param>
/// <param name="Message">What is wrong, naming the operation and the field.</param>
/// <param name="Hint">How to fix it, when there is a typical fix.</param>
public sealed record TransformProblem(string JsonPath, string Message, string? Hint = null);
