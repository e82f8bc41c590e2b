using System.Runtime.CompilerServices;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Whether a workflow waits on the network: an <c>llm</c> or <c>external_api</c> step anywhere in it, nested steps
/// included. A worker starting many such jobs at once lets each one's request leave before it starts the next.
/// </summary>
public static class NetworkSteps
{
    /// <summary>The answer per loaded definition (a catalog reload makes new ones), computed once.</summary>
    private static readonly ConditionalWeakTable<WorkflowDefinition, StrongBox<bool>> Answers = new();

    public static bool CallsOut(WorkflowDefinition workflow) =>
        Answers.GetValue(workflow, static w => new StrongBox<bool>(
            WorkflowWalker.Walk(w).Any(location => location.Step.Type is StepTypes.Llm or StepTypes.ExternalApi))).Value;
}
