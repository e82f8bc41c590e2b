using LlmWorkflow.Engine.Definitions;
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
/// <remarks>
/// <para>
/// The row of a step that costs nothing to run again (a transform or a control-flow step: no LLM call, no external
/// request) is deferred, not written on its own. It goes first in the run's next write (a paid step's checkpoint, or
/// the finish: <see cref="TakeDeferredAsync"/>), in the same transaction. If nothing else is written within
/// <c>deferFor</c>, it is written alone, so pollers still see a step that is followed by a slow one.
/// </para>
/// <para>
/// The checkpoint of the run's last step, paid or not, also waits: the finish follows at once and writes it first, in
/// its transaction, with the step's usage rows (<see cref="HoldsLastPaidStep"/>: the finish is then held like a
/// checkpoint while PostgreSQL is unreachable). A run that ends without its finish writes those rows instead of
/// dropping them (<see cref="EndWithoutFinishAsync"/>): a paid call keeps its usage row, and its checkpoint spares a
/// resumed run the call.
/// </para>
/// <para>
/// A job of one transform step, or of one LLM step, thus commits its step row and its finish together. A worker that
/// dies loses only deferred rows written after its last write, and no later checkpoint can exist without them: every
/// write carries the rows deferred before it. The resumed run computes those steps again.
/// </para>
/// </remarks>
/// <param name="deferStepRows">False when each step row must be written as the step finishes (the job's webhook
/// wants <c>workflow.step_completed</c>, whose receiver may read the step at once).</param>
/// <param name="leaseLost">Called when a step row is refused because the job's attempt is no longer this run's.</param>
/// <param name="deferFor">How long a deferred row waits for the run's next write before it is written alone; by
/// default <see cref="JobProgressSink.ProgressDelay"/>, the delay after which pollers see a running step.</param>
internal sealed class PostgresCheckpointStore(
    JobLifecycleStore store, JobRunWriter writer, ClaimedJob job, RunPersistenceFaults faults, HeldWrites held, Action leaseLost,
    bool deferStepRows = true, TimeSpan? deferFor = null) : ICheckpointStore
{
    private readonly TimeSpan _deferFor = deferFor ?? JobProgressSink.ProgressDelay;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _saved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<WriteStatement>> _usage = new(StringComparer.Ordinal);
    private readonly List<WriteStatement> _deferred = [];
    private readonly Guid _jobId = job.Id;
    private readonly int _jobAttempt = job.Attempt;

    // A job resumed from a wait runs its first attempt again (a park gives the attempt back) and has checkpoints.
    // A fork starts with its source's checkpoints of the steps before its from_step.
    private readonly bool _mayHaveCheckpoints = job.Attempt > 1 || job.ResumedWait is not null || job.IsFork;

    // Guarded by _deferred: which deferral the pending delayed write belongs to, and that write while it runs.
    private int _deferral;
    private Task _delayedWrite = Task.CompletedTask;

    // Guarded by _deferred: the last step's checkpoint and usage rows, when that step called out (LLM, external API).
    private List<WriteStatement>? _lastPaidStep;

    /// <summary>True when this run already wrote the step's row as a checkpoint (the engine saves before it reports).</summary>
    public bool WasSaved(string stepKey) => _saved.ContainsKey(stepKey);

    public async ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken)
    {
        // A job's first attempt has no earlier checkpoints, unless it waited: skip the lookup (one query less per step
        // on the hot path).
        if (!_mayHaveCheckpoints)
        {
            return null;
        }

        if (await faults.GuardAsync(() => store.TryGetCheckpointAsync(_jobId, stepKey, cancellationToken)) is not var (output, row))
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

    /// <summary>
    /// True while the checkpoint of the run's last step, a step that called out, waits for the finish: the finish
    /// then carries a paid answer and is held while PostgreSQL is unreachable, as the checkpoint itself would be.
    /// </summary>
    public bool HoldsLastPaidStep
    {
        get
        {
            lock (_deferred)
            {
                return _lastPaidStep is not null;
            }
        }
    }

    /// <summary>
    /// The run ends without its finish (it is handed back or taken over). Drops the deferred rows of free steps (a
    /// resumed run computes those steps again), once a delayed write of earlier rows has settled, so no write of this
    /// run outlives it; a pending delayed write then finds nothing to write. The last step's rows, if it called out,
    /// are written instead (held like a checkpoint): its usage rows record paid calls whoever owns the job now, and its
    /// checkpoint, if this attempt still owns the job, spares the resumed run the call.
    /// </summary>
    public async Task EndWithoutFinishAsync()
    {
        await TakeDeferredAsync(keepLastPaidStep: true);
        List<WriteStatement>? rows;
        lock (_deferred)
        {
            rows = _lastPaidStep;
            _lastPaidStep = null;
        }

        if (rows is not null)
        {
            // Refused when another attempt owns the job: then its usage rows went in regardless, and the run stops anyway.
            await faults.GuardAsync(() => held.WriteAsync(() => writer.WriteStepAsync(_jobId, rows, CancellationToken.None),
                HeldWrites.EstimateBytes(rows), $"the last step of job {_jobId}"));
        }
    }

    /// <summary>Keeps an answered call's usage row until its step's row is written (see <see cref="SaveAsync"/>).</summary>
    public void AddUsage(string stepKey, string stepId, LlmCallResult call)
    {
        var statement = JobLifecycleStore.UsageStatement(Guid.CreateVersion7(), _jobId, stepId, job.WorkflowName, call);
        lock (_usage)
        {
            if (!_usage.TryGetValue(stepKey, out var rows))
            {
                _usage[stepKey] = rows = [];
            }

            rows.Add(statement);
        }
    }

    /// <summary>
    /// Writes the checkpoint with the step's usage rows, and the rows deferred before it; the run waits here while the
    /// write is held. The checkpoint of a step that costs nothing to run again is deferred instead.
    /// </summary>
    /// <remarks>
    /// The write does not follow the run's cancellation: an answer that was paid for is stored (or its hold runs out)
    /// even when the job is being cancelled or the worker is stopping.
    /// </remarks>
    public async ValueTask SaveAsync(string runId, StepCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        await WriteStepAsync(JobLifecycleStore.StepStatement(_jobId, _jobAttempt, checkpoint.Record, checkpoint.Output, isCheckpoint: true), checkpoint.Record,
            endsRun: checkpoint.EndsRun);
        _saved[checkpoint.StepKey] = true;
    }

    /// <summary>
    /// Writes a step record that is not a checkpoint (a failed or uncheckpointed step) with its usage rows, or defers
    /// it as <see cref="SaveAsync"/> does.
    /// </summary>
    public Task WriteRecordAsync(StepRecord record) =>
        WriteStepAsync(JobLifecycleStore.StepStatement(_jobId, _jobAttempt, record, null, isCheckpoint: false), record);

    /// <summary>
    /// The step rows not written yet, for the finish to write first in its own write (once a delayed write of earlier
    /// rows has settled, so the finish cannot overtake it): the deferred rows of free steps, then the last step's.
    /// </summary>
    public Task<List<WriteStatement>> TakeDeferredAsync() => TakeDeferredAsync(keepLastPaidStep: false);

    private async Task<List<WriteStatement>> TakeDeferredAsync(bool keepLastPaidStep)
    {
        Task delayed;
        lock (_deferred)
        {
            delayed = _delayedWrite;
        }

        await delayed;
        lock (_deferred)
        {
            List<WriteStatement> rows = [.. _deferred];
            _deferred.Clear();
            if (!keepLastPaidStep && _lastPaidStep is { } last)
            {
                rows.AddRange(last);
                _lastPaidStep = null;
            }

            return rows;
        }
    }

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
                await faults.GuardAsync(() => held.WriteAsync(() => writer.WriteStepAsync(_jobId, rows, CancellationToken.None),
                    HeldWrites.EstimateBytes(rows), $"the LLM usage of step \"{key}\" of job {_jobId}"));
            }
        }
    }

    private async Task WriteStepAsync(WriteStatement step, StepRecord record, bool endsRun = false)
    {
        var stepKey = record.StepKey;
        var usage = TakeUsage(stepKey);
        if (deferStepRows && usage.Count == 0 && RerunIsFree(record.Type))
        {
            Defer(step);
            return;
        }

        if (deferStepRows && endsRun)
        {
            // Nothing of the run follows but its finish, which writes these rows first in its own transaction: one
            // transaction for the job's last answer and its outcome. A crash before that commit loses the answer, as a
            // crash before this checkpoint's own commit would.
            lock (_deferred)
            {
                _lastPaidStep = [step, .. usage];
            }

            return;
        }

        // Every row of the write is this job's, under the same guard (running this attempt): one answer for all.
        var statements = await TakeDeferredAsync();
        statements.Add(step);
        statements.AddRange(usage);
        var written = await faults.GuardAsync(() => held.WriteAsync(() => writer.WriteStepAsync(_jobId, statements, CancellationToken.None),
            HeldWrites.EstimateBytes(statements), $"step \"{stepKey}\" of job {_jobId}"));
        if (!written)
        {
            // Another worker owns the job now (it was reclaimed while this one could not reach PostgreSQL), or it was
            // finished or deleted: this run stops, and the usage rows went in regardless.
            leaseLost();
            throw new OperationCanceledException($"Job {_jobId} is no longer owned by this run (attempt {_jobAttempt}); the result of step \"{stepKey}\" was not stored.");
        }
    }

    /// <summary>Steps that call out (LLM calls are paid, external requests may act) are written as they finish.</summary>
    private static bool RerunIsFree(string stepType) => stepType is not (StepTypes.Llm or StepTypes.ExternalApi);

    private void Defer(WriteStatement step)
    {
        lock (_deferred)
        {
            _deferred.Add(step);
            if (_deferred.Count == 1)
            {
                var deferral = ++_deferral;
                _ = WriteDeferredLaterAsync(deferral);
            }
        }
    }

    /// <summary>Writes the deferred rows alone if the run wrote nothing else since <paramref name="deferral"/> began.</summary>
    private async Task WriteDeferredLaterAsync(int deferral)
    {
        await Task.Delay(_deferFor);
        List<WriteStatement> rows;
        TaskCompletionSource settled;
        lock (_deferred)
        {
            if (_deferral != deferral || _deferred.Count == 0)
            {
                return;
            }

            rows = [.. _deferred];
            _deferred.Clear();
            settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _delayedWrite = settled.Task;
        }

        try
        {
            if (!await writer.WriteStepAsync(_jobId, rows, CancellationToken.None))
            {
                leaseLost();
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // Not written: the rows stay deferred, ahead of any deferred since, for the run's next write.
            lock (_deferred)
            {
                _deferred.InsertRange(0, rows);
            }
        }
        finally
        {
            settled.SetResult();
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
