using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The engine's checkpoint store on <c>llm_job_steps</c>: a finished step's row doubles as its checkpoint, so a job
/// resumed by another worker (after a crash) or retried skips every step that already finished.
/// </summary>
internal sealed class PostgresCheckpointStore(JobStore store, Guid jobId, int jobAttempt, RunPersistenceFaults faults) : ICheckpointStore
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _saved = new(StringComparer.Ordinal);

    /// <summary>True when this run already wrote the step's row as a checkpoint (the engine saves before it reports).</summary>
    public bool WasSaved(string stepKey) => _saved.ContainsKey(stepKey);

    public async ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken)
    {
        // A job's first attempt has no earlier checkpoints: skip the lookup (one query less per step on the hot path).
        if (jobAttempt == 1)
        {
            return null;
        }

        if (await faults.GuardAsync(() => store.TryGetCheckpointAsync(jobId, stepKey, cancellationToken)) is not var (output, row))
        {
            return null;
        }

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
            InputTokens = row.InputTokens,
            OutputTokens = row.OutputTokens,
            CostUsd = row.CostUsd,
            Provider = row.Provider,
            Model = row.Model,
        };
        return new StepCheckpoint(stepKey, output, record);
    }

    public async ValueTask SaveAsync(string runId, StepCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        await faults.GuardAsync(() => store.UpsertStepAsync(jobId, jobAttempt, checkpoint.Record, checkpoint.Output, isCheckpoint: true, cancellationToken));
        _saved[checkpoint.StepKey] = true;
    }

    private static StepStatus ParseStatus(string text) =>
        Enum.GetValues<StepStatus>().FirstOrDefault(s => s.ToWire() == text);
}
