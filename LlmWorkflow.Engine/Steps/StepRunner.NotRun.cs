using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>The steps that do not run: a branch not taken (recorded as skipped) and a step restored from its checkpoint.</summary>
internal sealed partial class StepRunner
{
    /// <summary>Records the steps of a block that will not run (the branch of a conditional not taken), nested ones included.</summary>
    public async Task MarkSkippedAsync(IReadOnlyList<StepDefinition> steps, ExecutionFrame frame, RunState run, int topLevelIndex, CancellationToken cancellationToken)
    {
        foreach (var step in steps)
        {
            var now = run.Now;
            var record = new StepRecord
            {
                StepKey = frame.KeyPrefix + step.Id,
                StepId = step.Id,
                DisplayName = step.Label,
                Type = step.Type,
                Status = StepStatus.Skipped,
                StartedAt = now,
                FinishedAt = now,
                ParentStepId = frame.ParentStepId,
                Branch = frame.Branch,
            };
            run.AddRecord(record);
            await run.Progress.PublishAsync(new StepCompleted(run.RunId, now, record, run.Percent(topLevelIndex)), cancellationToken);
            foreach (var block in step.Blocks)
            {
                await MarkSkippedAsync(block.Steps, frame.ForBlock(step.Id, block.Key, topLevelIndex), run, topLevelIndex, cancellationToken);
            }
        }
    }

    private static async Task<JsonNode?> RestoreAsync(
        StepCheckpoint checkpoint, StepDefinition step, ExecutionFrame frame, RunState run, int topLevelIndex, bool isTopLevel, CancellationToken cancellationToken)
    {
        var record = checkpoint.Record with { FromCheckpoint = true };
        frame.Outputs.Set(step.Id, checkpoint.Output);
        run.Usage.Add(record);
        run.AddRecord(record);
        await run.Progress.PublishAsync(
            new StepCompleted(run.RunId, run.Now, record, run.Percent(isTopLevel ? topLevelIndex + 1 : topLevelIndex)),
            cancellationToken);
        return checkpoint.Output;
    }
}
