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

        var outputs = new JsonNode?[items.Count];
        using var gate = new SemaphoreSlim(Math.Max(1, config.MaxConcurrency ?? DefaultMaxConcurrency));
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        WorkflowException? firstFailure = null;

        async Task RunIterationAsync(int index)
        {
            await gate.WaitAsync(failFast.Token);
            try
            {
                var frame = context.Frame.ForIteration(context.StepKey, context.Step.Id, context.TopLevelIndex, items[index], index);
                outputs[index] = await context.Runner.RunBlockAsync(config.Steps, frame, context.Run, failFast.Token);
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
            await Task.WhenAll(Enumerable.Range(0, items.Count).Select(RunIterationAsync));
        }
        catch (OperationCanceledException) when (firstFailure is not null && !cancellationToken.IsCancellationRequested)
        {
            // Iterations cancelled because another failed; that failure is reported below.
        }

        if (firstFailure is not null)
        {
            throw firstFailure;
        }

        return new JsonArray([.. outputs.Select(output => output?.DeepClone())]);
    }
}
