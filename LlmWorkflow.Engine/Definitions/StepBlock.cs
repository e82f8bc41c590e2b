namespace LlmWorkflow.Engine.Definitions;

/// <summary>A nested list of steps inside a control-flow step.</summary>
/// <param name="Key">Block name: <c>then</c>, <c>else</c>, a parallel branch id, or <c>steps</c> for for_each.</param>
/// <param name="JsonPath">Path of the list relative to its step, e.g. <c>config.then</c>, used in problem reports.</param>
public sealed record StepBlock(string Key, string JsonPath, IReadOnlyList<StepDefinition> Steps);
