using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>conditional</c>: evaluates the condition, runs <c>then</c> or <c>else</c> and records the other block's steps
/// as skipped. Output: <c>{"branch": "then"|"else", "output": &lt;last output of the block run, or null&gt;}</c>.
/// </summary>
internal sealed class ConditionalStepHandler : IStepHandler
{
    public bool IsCheckpointed => false;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var config = (ConditionalStepConfig)context.Step.ControlFlow!;
        var taken = Condition.Parse(config.Condition).Evaluate(context.Scope);
        context.Input = new JsonObject { ["condition"] = config.Condition, ["result"] = taken };
        var (run, skip, branch) = taken ? (config.Then, config.Else, "then") : (config.Else, config.Then, "else");

        await context.Runner.MarkSkippedAsync(
            skip, context.Frame.ForBlock(context.Step.Id, taken ? "else" : "then", context.TopLevelIndex), context.Run, context.TopLevelIndex, cancellationToken);
        var output = await context.Runner.RunBlockAsync(
            run, context.Frame.ForBlock(context.Step.Id, branch, context.TopLevelIndex), context.Run, cancellationToken);
        return new JsonObject { ["branch"] = branch, ["output"] = output?.DeepClone() };
    }
}
