using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Engine.Steps;

/// <summary><c>transform</c>: hands the raw config to the operation named by <c>operation</c>, which resolves its own options.</summary>
internal sealed class TransformStepHandler(TransformRegistry transforms) : IStepHandler
{
    public bool IsCheckpointed => true;

    public ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var operation = context.Step.Config["operation"] is JsonValue value && value.TryGetValue<string>(out var name)
            ? name
            : throw WorkflowException.Config("invalid_step_config", $"Transform step \"{context.Step.Id}\" needs config.operation.");
        return ValueTask.FromResult(transforms.Get(operation).Apply(context.Step.Config, context.Scope));
    }
}
