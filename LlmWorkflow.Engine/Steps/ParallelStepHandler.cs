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
        using var gate = new SemaphoreSlim(Math.Max(1, config.MaxConcurrency ?? branches.Count));
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = config.Mode == ParallelMode.FailFast ? failFast.Token : cancellationToken;
        WorkflowException? firstFailure = null;

        async Task RunBranchAsync(int index)
        {
            var (branchId, steps) = branches[index];
            await gate.WaitAsync(token);
            try
            {
                var frame = context.Frame.ForBlock(context.Step.Id, branchId, context.TopLevelIndex);
                outputs[index] = await context.Runner.RunBlockAsync(steps, frame, context.Run, token);
            }
            catch (WorkflowException failure)
            {
                Interlocked.CompareExchange(ref firstFailure, failure, null);
                await failFast.CancelAsync();
            }
            finally
            {
                gate.Release();
            }
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, branches.Count).Select(RunBranchAsync));
        }
        catch (OperationCanceledException) when (firstFailure is not null && !cancellationToken.IsCancellationRequested)
        {
            // Siblings cancelled by fail_fast; the failure that caused it is reported below.
        }

        if (firstFailure is not null)
        {
            throw firstFailure;
        }

        var result = new JsonObject();
        for (var i = 0; i < branches.Count; i++)
        {
            result[branches[i].Key] = outputs[i]?.DeepClone();
        }

        return result;
    }
}
