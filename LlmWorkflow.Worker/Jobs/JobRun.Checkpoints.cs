using System.Collections.Concurrent;
using System.Diagnostics;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Approvals;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>The run as the engine's checkpoint store: step rows (deferred by the rules on <see cref="JobRun"/>), checkpoints read back, usage rows.</summary>
internal sealed partial class JobRun
{
    // ---- Checkpoints, step rows and usage rows (ICheckpointStore) ----

    /// <summary>A step's checkpoint, when the run may have one: a resumed, retried or forked run's (<c>JobRun.Restore.cs</c>).</summary>
    public ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken) =>
        // A job's first attempt has no earlier checkpoints, unless it waited: skip the lookup (one query less per step
        // on the hot path).
        _mayHaveCheckpoints ? new(ReadCheckpointAsync(stepKey, cancellationToken)) : default;

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
        await WriteStepAsync(JobRunStore.StepRow(job.Id, job.Attempt, checkpoint.Record, checkpoint.Output, isCheckpoint: true), checkpoint.Record,
            endsRun: checkpoint.EndsRun);
        _saved[checkpoint.StepKey] = true;
    }

    /// <summary>Keeps an answered call's usage row until its step's row is written (see <see cref="SaveAsync"/>).</summary>
    public void AddUsage(string stepKey, string stepId, LlmCallResult call)
    {
        var statement = JobRunStore.UsageRow(job.Id, stepId, job.WorkflowName, call);
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
    /// The step rows not written yet, for the run's end to write first in its own write (once a delayed write of earlier
    /// rows has settled, so the end cannot overtake it): the deferred rows of free steps, then the last step's.
    /// </summary>
    public Task<List<WriteStatement>> TakeDeferredAsync() => TakeDeferredAsync(keepLastPaidStep: false);

    /// <summary>
    /// Writes usage rows whose step never recorded (the run stopped inside it), so no paid call goes unrecorded
    /// (<c>JobRun.Waits.cs</c>); a run whose every step recorded has none.
    /// </summary>
    public Task FlushUsageAsync()
    {
        lock (_usage)
        {
            if (_usage.Count == 0)
            {
                return Task.CompletedTask;
            }
        }

        return FlushUnrecordedUsageAsync();
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
        if (!await GuardAsync(() => store.WriteHeldStepAsync(job.Id, statements, $"step \"{stepKey}\" of job {job.Id}")))
        {
            // Another worker owns the job now (it was reclaimed while this one could not reach PostgreSQL), or it was
            // finished or deleted: this run stops, and the usage rows went in regardless.
            LeaseLost();
            throw new OperationCanceledException($"Job {job.Id} is no longer owned by this run (attempt {job.Attempt}); the result of step \"{stepKey}\" was not stored.");
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
            if (!await store.WriteStepAsync(job.Id, rows, CancellationToken.None))
            {
                LeaseLost();
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
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

    private List<WriteStatement> TakeUsage(string stepKey)
    {
        lock (_usage)
        {
            return _usage.Remove(stepKey, out var rows) ? rows : [];
        }
    }

    private void LeaseLost()
    {
        Volatile.Write(ref _takenOver, true);
        Stop.Cancel();
    }

    /// <summary>Runs a store call; a failure to reach PostgreSQL is recorded (<see cref="PersistenceFault"/>) and rethrown.</summary>
    private async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            Interlocked.CompareExchange(ref _fault, ex, null);
            throw;
        }
    }
}
