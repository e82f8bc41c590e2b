using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// <c>parallel</c>: runs the branches concurrently (at most <c>max_concurrency</c> at once), each branch's steps
/// in order. Output: an object keyed by branch id with each branch's last step output, in definition order.
/// <c>fail_fast</c> cancels the other branches at the first failure; <c>wait_all</c> lets them finish first.
/// </summary>
internal sealed class ParallelStepHandler : IStepHandler
{
    public bool IsCheckpointed => false;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var config = (ParallelStepConfig)context.Step.ControlFlow!;
        var branches = config.Branches.ToList();
        var outputs = new JsonNode?[branches.Count];
        await BoundedFanOut.RunAsync(
            branches.Count,
            config.MaxConcurrency ?? branches.Count,
            failFast: config.Mode == ParallelMode.FailFast,
            async (index, token) =>
            {
                var (branchId, steps) = branches[index];
                var frame = context.Frame.ForBlock(context.Step.Id, branchId, context.TopLevelIndex);
                outputs[index] = await context.Runner.RunBlockAsync(steps, frame, context.Run, token);
            },
            cancellationToken);

        var result = new JsonObject();
        for (var i = 0; i < branches.Count; i++)
        {
            result[branches[i].Key] = outputs[i]?.DeepClone();
        }

        return result;
    }
}
