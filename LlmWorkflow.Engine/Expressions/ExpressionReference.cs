namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// One value reference found in a config tree or a condition, for static checks by the validator.
/// </summary>
/// <param name="Root"><c>input</c>, <c>steps</c>, <c>context</c>, <c>item</c> or <c>index</c>.</param>
/// <param name="StepId">The step id for <c>steps.&lt;id&gt;.output...</c>; otherwise null.</param>
/// <param name="Path">The path below the root (below <c>steps.&lt;id&gt;.output</c> for steps), e.g. <c>location.city</c>; empty for the root itself.</param>
/// <param name="Text">The reference as written, e.g. <c>${input.location.city}</c> (or the bare path in a condition).</param>
/// <param name="JsonPath">Where it was found, e.g. <c>$.config.prompt_variables.city</c>; <c>$</c> for a condition, which the caller rebases.</param>
public sealed record ExpressionReference(string Root, string? StepId, string Path, string Text, string JsonPath);
