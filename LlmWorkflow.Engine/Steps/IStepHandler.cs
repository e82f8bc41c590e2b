using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Steps;

/// <summary>Runs one step type. Throws <see cref="Execution.WorkflowException"/> to fail with a classified error.</summary>
internal interface IStepHandler
{
    /// <summary>
    /// Leaf steps are checkpointed. Control-flow steps are not: on resume they run again and their nested steps
    /// are skipped through their own checkpoints, which also puts the nested outputs back in scope.
    /// </summary>
    bool IsCheckpointed { get; }

    ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken);
}
