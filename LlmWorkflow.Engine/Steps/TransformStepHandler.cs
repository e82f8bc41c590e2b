using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
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
        context.Input = ResolvedForDisplay(context);
        return ValueTask.FromResult(transforms.Get(operation).Apply(context.Step.Config, context.Scope));
    }

    /// <summary>The config with its expressions resolved, for the step record; the operation resolves its own options (some lazily, per item), so the raw config stands in when that is not possible here.</summary>
    private static JsonNode? ResolvedForDisplay(StepContext context)
    {
        try
        {
            return ValueResolver.Resolve(context.Step.Config, context.Scope);
        }
        catch (Exception ex) when (ex is WorkflowException or Expressions.ExpressionSyntaxException or InvalidOperationException)
        {
            return context.Step.Config.DeepClone();
        }
    }
}
