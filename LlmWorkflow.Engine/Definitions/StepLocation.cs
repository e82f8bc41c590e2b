namespace LlmWorkflow.Engine.Definitions;

/// <summary>A step found by <see cref="WorkflowWalker"/>, with where it sits in the tree.</summary>
/// <param name="JsonPath">E.g. <c>$.steps[1].config.then[0]</c>.</param>
/// <param name="Parent">The enclosing control-flow step; null at top level.</param>
/// <param name="Block">The block of <paramref name="Parent"/> holding this step (then, else, branch id, steps).</param>
/// <param name="Depth">0 at top level.</param>
public sealed record StepLocation(StepDefinition Step, string JsonPath, StepDefinition? Parent, string? Block, int Depth);
