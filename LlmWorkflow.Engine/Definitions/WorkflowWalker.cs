namespace LlmWorkflow.Engine.Definitions;

/// <summary>Enumerates every step of a workflow, depth first in document order.</summary>
public static class WorkflowWalker
{
    public static IEnumerable<StepLocation> Walk(WorkflowDefinition workflow) => Walk(workflow.Steps, "$.steps", null, null, 0);

    private static IEnumerable<StepLocation> Walk(IReadOnlyList<StepDefinition> steps, string listPath, StepDefinition? parent, string? block, int depth)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var path = $"{listPath}[{i}]";
            yield return new StepLocation(step, path, parent, block, depth);
            foreach (var nestedBlock in step.Blocks)
            {
                foreach (var nested in Walk(nestedBlock.Steps, $"{path}.{nestedBlock.JsonPath}", step, nestedBlock.Key, depth + 1))
                {
                    yield return nested;
                }
            }
        }
    }
}
