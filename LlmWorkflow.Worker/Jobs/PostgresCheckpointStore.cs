using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The engine's checkpoint store on <c>llm_job_steps</c>: a finished step's row doubles as its checkpoint, so a job
/// resumed by another worker (after a crash) or retried skips every step that already finished. The usage rows of a
/// step's LLM calls wait here until the step's row is written and go in the same transaction, so a paid answer is
/// either stored with its usage or neither is; while PostgreSQL is unreachable that write is held
/// (<see cref="HeldWrites"/>) rather than lost.
/// </summary>
/// <param name="leaseLost">Called when a step row is refused because the job's attempt is no longer this run's.</param>
internal sealed class PostgresCheckpointStore(
    JobStore store, ClaimedJob job, RunPersistenceFaults faults, HeldWrites held, Action leaseLost) : ICheckpointStore
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _saved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<WriteStatement>> _usage = new(StringComparer.Ordinal);
    private readonly Guid _jobId = job.Id;
    private readonly int _jobAttempt = job.Attempt;

    /// <summary>True when this run already wrote the step's row as a checkpoint (the engine saves before it reports).</summary>
    public bool WasSaved(string stepKey) => _saved.ContainsKey(stepKey);

    public async ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken)
    {
        // A job's first attempt has no earlier checkpoints: skip the lookup (one query less per step on the hot path).
        if (_jobAttempt == 1)
        {
            return null;
        }

        if (await faults.GuardAsync(() => store.TryGetCheckpointAsync(_jobId, stepKey, cancellationToken)) is not var (output, row))
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

    /// <summary>Keeps an answered call's usage row until its step's row is written (see <see cref="SaveAsync"/>).</summary>
    public void AddUsage(string stepKey, string stepId, LlmCallResult call)
    {
        var statement = JobStore.UsageStatement(Guid.CreateVersion7(), _jobId, stepId, job.WorkflowName, call);
        lock (_usage)
        {
            if (!_usage.TryGetValue(stepKey, out var rows))
            {
                _usage[stepKey] = rows = [];
            }

            rows.Add(statement);
        }
    }

    /// <summary>Writes the checkpoint with the step's usage rows; the run waits here while the write is held.</summary>
    /// <remarks>
    /// The write does not follow the run's cancellation: an answer that was paid for is stored (or its hold runs out)
    /// even when the job is being cancelled or the worker is stopping.
    /// </remarks>
    public async ValueTask SaveAsync(string runId, StepCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        await WriteStepAsync(JobStore.StepStatement(_jobId, _jobAttempt, checkpoint.Record, checkpoint.Output, isCheckpoint: true), checkpoint.StepKey);
        _saved[checkpoint.StepKey] = true;
    }

    /// <summary>Writes a step record that is not a checkpoint (a failed or uncheckpointed step) with its usage rows.</summary>
    public Task WriteRecordAsync(StepRecord record) =>
        WriteStepAsync(JobStore.StepStatement(_jobId, _jobAttempt, record, null, isCheckpoint: false), record.StepKey);

    /// <summary>Writes usage rows whose step never recorded (the run stopped inside it), so no paid call goes unrecorded.</summary>
    public async Task FlushUsageAsync()
    {
        string[] keys;
        lock (_usage)
        {
            keys = [.. _usage.Keys];
        }

        foreach (var key in keys)
        {
            var rows = TakeUsage(key);
            if (rows.Count > 0)
            {
                await faults.GuardAsync(() => held.WriteAsync(() => store.WriteStepAsync(rows, CancellationToken.None),
                    HeldWrites.EstimateBytes(rows), $"the LLM usage of step \"{key}\" of job {_jobId}"));
            }
        }
    }

    private async Task WriteStepAsync(WriteStatement step, string stepKey)
    {
        var statements = new List<WriteStatement> { step };
        statements.AddRange(TakeUsage(stepKey));
        var written = await faults.GuardAsync(() => held.WriteAsync(() => store.WriteStepAsync(statements, CancellationToken.None),
            HeldWrites.EstimateBytes(statements), $"step \"{stepKey}\" of job {_jobId}"));
        if (!written)
        {
            // Another worker owns the job now (it was reclaimed while this one could not reach PostgreSQL), or it was
            // finished or deleted: this run stops, and the usage rows went in regardless.
            leaseLost();
            throw new OperationCanceledException($"Job {_jobId} is no longer owned by this run (attempt {_jobAttempt}); the result of step \"{stepKey}\" was not stored.");
        }
    }

    private List<WriteStatement> TakeUsage(string stepKey)
    {
        lock (_usage)
        {
            return _usage.Remove(stepKey, out var rows) ? rows : [];
        }
    }

    private static StepStatus ParseStatus(string text) =>
        Enum.GetValues<StepStatus>().FirstOrDefault(s => s.ToWire() == text);
}
