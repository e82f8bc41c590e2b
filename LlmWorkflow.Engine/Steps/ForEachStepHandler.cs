using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>for_each</c>: runs the sub-steps once per item, at most <c>max_concurrency</c> iterations at once (default
/// <see cref="DefaultMaxConcurrency"/>), with <c>${item}</c> and <c>${index}</c> in scope. Each iteration has its own
/// view of the sub-step outputs. Output: an array, in item order, of each iteration's last sub-step output.
/// The first failing iteration cancels the others.
/// </summary>
internal sealed class ForEachStepHandler : IStepHandler
{
    public const int DefaultMaxConcurrency = 4;

    public bool IsCheckpointed => false;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var config = (ForEachStepConfig)context.Step.ControlFlow!;
        if (ValueResolver.Resolve(config.Items, context.Scope) is not JsonArray items)
        {
            throw WorkflowException.User(
                "for_each_items_not_array",
                $"for_each step \"{context.Step.Id}\": items must resolve to an array.");
        }

        context.Input = new JsonObject { ["items"] = items.DeepClone() };
        var outputs = new JsonNode?[items.Count];
        await BoundedFanOut.RunAsync(
            items.Count,
            config.MaxConcurrency ?? DefaultMaxConcurrency,
            failFast: true,
            async (index, token) =>
            {
                var frame = context.Frame.ForIteration(context.StepKey, context.Step.Id, context.TopLevelIndex, items[index], index);
                outputs[index] = await context.Runner.RunBlockAsync(config.Steps, frame, context.Run, token);
            },
            cancellationToken);

        return new JsonArray([.. outputs.Select(output => output?.DeepClone())]);
    }
}
