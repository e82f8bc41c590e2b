using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>A checkpoint read back: only a run that resumes (after a wait, a hand-back or a crash) or a fork has any.</summary>
internal sealed partial class JobRun
{
    private async Task<StepCheckpoint?> ReadCheckpointAsync(string stepKey, CancellationToken cancellationToken)
    {
        if (await GuardAsync(() => store.TryGetCheckpointAsync(job.Id, stepKey, cancellationToken)) is not var (output, row))
        {
            return null;
        }

        // A fork's copied checkpoint was paid by its source job: reused here at $0, so its usage is not counted again.
        var paidHere = row.ReusedFromJobId is null;
        var record = new StepRecord
        {
            StepKey = stepKey,
            StepId = row.StepId,
            DisplayName = row.DisplayName,
            Type = row.Type,
            Status = ParseStatus(row.Status),
            Attempts = row.Attempts,
            StartedAt = row.StartedAt,
            FinishedAt = row.FinishedAt ?? row.StartedAt,
            DurationMs = row.DurationMs,
            Output = StepOutputCap.Apply(output),
            ParentStepId = row.ParentStepId,
            Branch = row.Branch,
            FromCheckpoint = true,
            InputTokens = paidHere ? row.InputTokens : 0,
            OutputTokens = paidHere ? row.OutputTokens : 0,
            CostUsd = paidHere ? row.CostUsd : 0m,
            Provider = row.Provider,
            Model = row.Model,
        };
        return new StepCheckpoint(stepKey, output, record);
    }

    private static StepStatus ParseStatus(string text) =>
        Enum.GetValues<StepStatus>().FirstOrDefault(s => s.ToWire() == text);
}
