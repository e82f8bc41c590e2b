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

/// <summary>
/// One running job in this worker, and the one owner of everything its run records: step rows (which double as
/// checkpoints, so a job resumed by another worker or retried skips every step that already finished), the usage rows
/// of its LLM calls, its progress on the job row, its live events, and its end (finish, park, hand-back). It is the
/// engine's progress sink and checkpoint store for the run, and hands every row to <see cref="JobRunStore"/>, whose
/// group commit and outage hold are its own matter.
/// </summary>
/// <remarks>
/// <para>The write-deferral rules kept, each with why it pays:</para>
/// <list type="number">
/// <item>A free step's row (a transform or control-flow step: no LLM call, no external request) rides the run's next
/// write, or is written alone after <c>deferFor</c>: a job of free steps commits once, with its finish, not once per step.</item>
/// <item>The last step's row (paid or not) rides the finish (<see cref="HoldsLastPaidStep"/>): a one-LLM-step job
/// commits its answer and its outcome in one transaction, held like a checkpoint through an outage.</item>
/// <item>The job row's current step is written only for top-level steps still running after <see cref="ProgressDelay"/>:
/// fast steps cost no statement, and pollers still see every step slow enough to be seen (live events report them all).</item>
/// <item>The attempt's trace is recorded by the claim when the dispatch carries it (nearly always); otherwise it is not
/// awaited (<see cref="RecordAttemptTrace"/>): it rides another job's commit, and a lost one costs a link on the job page,
/// never the run.</item>
/// </list>
/// <para>
/// Not deferrals but rules of the same writes: a call's usage row waits for its step's row and goes in the same
/// transaction, so a paid answer is stored with its usage or neither is; a write that carries a paid answer is held
/// while PostgreSQL is unreachable (<see cref="HeldWrites"/>). A worker that dies loses only deferred rows written after
/// its last write, and no later checkpoint can exist without them: every write carries the rows deferred before it.
/// The run's last event (completed, failed, waiting) is published only once the job row holds it (<see cref="PublishOutcome"/>).
/// </para>
/// </remarks>
/// <param name="deferStepRows">False when each step row must be written as the step finishes (the job's webhook
/// wants <c>workflow.step_completed</c>, whose receiver may read the step at once).</param>
/// <param name="deferFor">How long a deferred row waits for the run's next write before it is written alone; by
/// default <see cref="ProgressDelay"/>, the delay after which pollers see a running step.</param>
internal sealed partial class JobRun(
    JobRunStore store,
    LiveEventPublisher events,
    ClaimedJob job,
    string workerId,
    CancellationToken abort,
    bool deferStepRows = true,
    TimeSpan? deferFor = null,
    ILogger? logger = null,
    ApprovalLinks? approvalLinks = null) : IProgressSink, ICheckpointStore, IDisposable
{
    public static readonly TimeSpan ProgressDelay = TimeSpan.FromMilliseconds(250);

    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly TimeSpan _deferFor = deferFor ?? ProgressDelay;
    private readonly ConcurrentDictionary<string, bool> _saved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<WriteStatement>> _usage = new(StringComparer.Ordinal);
    private readonly List<WriteStatement> _deferred = [];

    // A job resumed from a wait runs its first attempt again (a park gives the attempt back) and has checkpoints.
    // A fork starts with its source's checkpoints of the steps before its from_step.
    private readonly bool _mayHaveCheckpoints = job.Attempt > 1 || job.ResumedWait is not null || job.IsFork;

    // Guarded by _deferred: which deferral the pending delayed write belongs to, and that write while it runs.
    private int _deferral;
    private Task _delayedWrite = Task.CompletedTask;

    // Guarded by _deferred: the last step's checkpoint and usage rows, when that step called out (LLM, external API).
    private List<WriteStatement>? _lastPaidStep;

    // Bumped by every top-level step start and finish; a delayed progress write only lands if nothing happened since.
    private int _progressVersion;
    private ProgressEvent? _outcome;
    private Exception? _fault;
    private bool _takenOver;

    /// <summary>
    /// Stops the run: worker shutdown (the abort it was made with), a cancel request or deletion (<see cref="RunningJobs"/>),
    /// a lost lease, or a step row refused because another attempt owns the job (<see cref="TakenOver"/>).
    /// </summary>
    public CancellationTokenSource Stop { get; } = CancellationTokenSource.CreateLinkedTokenSource(abort);

    /// <summary>True once a step row of this attempt was refused: a newer attempt owns the job, and this run writes nothing more of its own.</summary>
    public bool TakenOver => Volatile.Read(ref _takenOver);

    /// <summary>
    /// The first failure to reach PostgreSQL while recording the run. The engine sees it as a step error, but it is not
    /// the job's fault: the run is then handed back (it resumes from its checkpoints) instead of failing.
    /// </summary>
    public Exception? PersistenceFault => Volatile.Read(ref _fault);

    public void Dispose() => Stop.Dispose();

    // ---- Progress and live events (IProgressSink) ----

    public async ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        if (progressEvent is StepStarted { Type: StepTypes.Llm or StepTypes.ExternalApi or StepTypes.Agent }
            && await store.StopRequestedAsync(job.Id, cancellationToken))
        {
            // No paid step starts after a cancel was accepted, even if its notice has not reached this worker yet.
            await Stop.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (progressEvent is StepCompleted { Record.ParentStepId: null })
        {
            Interlocked.Increment(ref _progressVersion);
        }

        if (progressEvent is StepCompleted { Record: var record })
        {
            LogStepFinished(_logger, job.Id, job.WorkflowName, record.StepId, record.StepKey, record.Type, record.Status.ToWire(),
                Math.Round(record.DurationMs, 1), record.Attempts, record.FromCheckpoint);
        }

        switch (progressEvent)
        {
            case StepStarted { ParentStepId: null } started:
                _ = WriteProgressLaterAsync(Interlocked.Increment(ref _progressVersion), started);
                break;
            // A checkpointed step's row is already written (with its full output): one write per step, not two.
            case StepCompleted { Record.FromCheckpoint: false } completed when !_saved.ContainsKey(completed.Record.StepKey):
                await WriteStepAsync(JobRunStore.StepRow(job.Id, job.Attempt, completed.Record, null, isCheckpoint: false), completed.Record);
                break;
            case LlmCallCompleted call:
                // Written with its step's row (checkpoint or record), in one transaction, held through an outage.
                AddUsage(call.StepKey ?? call.StepId, call.StepId, call.Result);
                break;
        }

        if (progressEvent is RunCompleted or RunFailed or RunWaiting)
        {
            // The run's last event says what the job row will say; it waits for that write (PublishOutcome), so a client
            // that reads the job on hearing it sees the same state, and a run handed back on shutdown announces nothing.
            _outcome = progressEvent;
            return;
        }

        events.Publish(job.Id, progressEvent);
    }

    /// <summary>Publishes the run's last event (completed, failed, waiting) once the job row holds the state it reports.</summary>
    public void PublishOutcome()
    {
        if (Interlocked.Exchange(ref _outcome, null) is not { } outcome)
        {
            return;
        }

        if (outcome is RunWaiting { Wait.Approval: not null } waiting && WithDecisionLinks(waiting) is { } wire)
        {
            events.Publish(job.Id, wire);
            return;
        }

        events.Publish(job.Id, outcome);
    }

    /// <summary>
    /// An approval wait's <c>run_waiting</c> with its decision links, as the <c>workflow.waiting</c> webhook carries them,
    /// so a main app watching the stream can put them in front of a person; null (the plain event) when they cannot be issued.
    /// </summary>
    private RunWaitingEvent? WithDecisionLinks(RunWaiting waiting)
    {
        if (approvalLinks is null)
        {
            return null;
        }

        try
        {
            var described = WaitDescriptions.Describe(job.Id, waiting.Wait, approvalLinks);
            return new RunWaitingEvent(waiting.RunId, waiting.Timestamp, described.StepId, described.Kind, described.Until, described.Event,
                described.Prompt, described.DecisionUrl, described.ApproveUrl, described.RejectUrl, described.LinksExpireAt);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null; // the key ring is unreadable: the wait stands, its links are on the status once it is
        }
    }

    private async Task WriteProgressLaterAsync(int version, StepStarted started)
    {
        await Task.Delay(ProgressDelay);
        if (Volatile.Read(ref _progressVersion) != version)
        {
            return;
        }

        try
        {
            // Only a processing job is updated, so a write that lands after the job finished changes nothing.
            await store.UpdateProgressAsync(job.Id, started.StepId, started.DisplayName, started.Percent, CancellationToken.None);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // Progress on the job row is advisory; the step records and the live events carry the truth.
        }
    }

    /// <summary>
    /// Records this attempt's trace on the job without waiting for it: it rides the store's group commit with other
    /// jobs' writes, and a lost record costs a link on the job page, never the run.
    /// </summary>
    public void RecordAttemptTrace(Activity? activity)
    {
        if (activity is null)
        {
            return;
        }

        _ = store.RecordAttemptTraceAsync(job.Id, job.Attempt, activity.TraceId.ToHexString(), workerId)
            .ContinueWith(t => LogTraceNotRecorded(_logger, t.Exception!, job.Id), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    // ---- Checkpoints, step rows and usage rows (ICheckpointStore) ----

    public async ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken)
    {
        // A job's first attempt has no earlier checkpoints, unless it waited: skip the lookup (one query less per step
        // on the hot path).
        if (!_mayHaveCheckpoints)
        {
            return null;
        }

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

    /// <summary>Writes usage rows whose step never recorded (the run stopped inside it), so no paid call goes unrecorded.</summary>
    public async Task FlushUsageAsync()
    {
        string[] keys;
        lock (_usage)
        {
            keys = [.. _usage.Keys];
        }

        try
        {
            foreach (var key in keys)
            {
                var rows = TakeUsage(key);
                if (rows.Count > 0)
                {
                    await GuardAsync(() => store.WriteHeldStepAsync(job.Id, rows, $"the LLM usage of step \"{key}\" of job {job.Id}"));
                }
            }
        }
        catch (TimeoutException)
        {
            // Held past Worker:HoldWritesFor (logged, and recorded as a persistence fault): the run is handed back.
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

    private static StepStatus ParseStatus(string text) =>
        Enum.GetValues<StepStatus>().FirstOrDefault(s => s.ToWire() == text);

    // ---- The run's end: finish, park, hand back, or taken over ----

    /// <summary>
    /// Stores the outcome with the step rows still deferred (free steps, the last step) first, in one transaction, then
    /// publishes the run's last live event. When the last step called out, that is a paid answer, held like a checkpoint
    /// through an outage.
    /// </summary>
    /// <returns>Whether this attempt finished the job (false: another attempt owns it, or it was already finished).</returns>
    public async Task<bool> FinishAsync(JobOutcome outcome)
    {
        var holdsPaidAnswer = HoldsLastPaidStep;
        var rows = await TakeDeferredAsync();
        var finished = await CommitFinishAsync(outcome, rows, holdsPaidAnswer ? $"the last step and the finish of job {job.Id}" : null);
        if (finished)
        {
            PublishOutcome();
        }

        return finished;
    }

    /// <summary>
    /// Parks the job on <paramref name="wait"/> after the step rows still deferred, in one transaction; when the park is
    /// refused (its cancel was requested while it ran), the job is finished as cancelled instead. The caller publishes
    /// the outcome (<see cref="PublishOutcome"/>) once the wait stands (a signal that came first may resume it at once).
    /// </summary>
    /// <returns>Whether the job is parked.</returns>
    public async Task<bool> ParkAsync(RunWait wait)
    {
        if (await store.ParkAsync(job.Id, workerId, job.Attempt, wait, await TakeDeferredAsync()))
        {
            return true;
        }

        // Its cancel was requested while it ran (or another attempt owns it, and then this finish matches nothing).
        await CommitFinishAsync(new JobOutcome(JobStatus.Cancelled, null, null, 0, 0, 0m), [], heldAs: null);
        return false;
    }

    /// <summary>
    /// Shutting down, or PostgreSQL dropped out under the run (not the job's fault): gives the job back so a worker
    /// resumes it from its checkpoints. If PostgreSQL is still down this throws and the job keeps its lease until it lapses.
    /// </summary>
    public async Task HandBackAsync()
    {
        await EndWithoutFinishAsync();
        await store.ReleaseAsync(job.Id, workerId, CancellationToken.None, job.Attempt);
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
            await GuardAsync(() => store.WriteHeldStepAsync(job.Id, rows, $"the last step of job {job.Id}"));
        }
    }

    private async Task<bool> CommitFinishAsync(JobOutcome outcome, IReadOnlyList<WriteStatement> stepRows, string? heldAs)
    {
        var finished = await store.FinishAsync(job.Id, workerId, outcome, CancellationToken.None, job.Attempt, stepRows, heldAs);
        if (finished)
        {
            Telemetry.JobsFinished.Add(1,
                new KeyValuePair<string, object?>("workflow", job.WorkflowName),
                new KeyValuePair<string, object?>("status", outcome.Status.ToWire()));
            // The terminal webhook event was recorded by the same statement (JobLifecycleStore.FinishStatement).
            LogFinished(_logger, job.Id, job.WorkflowName, outcome.Status.ToWire());
        }

        return finished;
    }

    // Per-step detail is Debug (and in the trace): Information is the job's one line (LogFinished).
    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Step {StepId} ({StepType}, {StepKey}) of job {JobId} ({Workflow}) {StepStatus} in {DurationMs} ms; attempts {Attempts}, from checkpoint {FromCheckpoint}")]
    private static partial void LogStepFinished(
        ILogger logger, Guid jobId, string workflow, string stepId, string stepKey, string stepType, string stepStatus, double durationMs, int attempts, bool fromCheckpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Workflow}) finished: {Status}")]
    private static partial void LogFinished(ILogger logger, Guid jobId, string workflow, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the trace of this attempt could not be recorded")]
    private static partial void LogTraceNotRecorded(ILogger logger, Exception ex, Guid jobId);
}
