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
using Microsoft.Extensions.Options;
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
    private readonly ConcurrentDictionary<string, bool> _saved = new(1, 1, StringComparer.Ordinal); // rarely written: 1 lock
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
            case LlmCallCompleted { UsageRecorded: false } call:
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

    // Per-step detail is Debug (and in the trace): Information is the job's one line (LogFinished).
    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Step {StepId} ({StepType}, {StepKey}) of job {JobId} ({Workflow}) {StepStatus} in {DurationMs} ms; attempts {Attempts}, from checkpoint {FromCheckpoint}")]
    private static partial void LogStepFinished(
        ILogger logger, Guid jobId, string workflow, string stepId, string stepKey, string stepType, string stepStatus, double durationMs, int attempts, bool fromCheckpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Workflow}) finished: {Status}")]
    private static partial void LogFinished(ILogger logger, Guid jobId, string workflow, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the trace of this attempt could not be recorded")]
    private static partial void LogTraceNotRecorded(ILogger logger, Exception ex, Guid jobId);

    // ---- The run's finish (park, hand-back and take-over: JobRun.Waits.cs) ----

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
}

/// <summary>Starts the <see cref="JobRun"/> that owns a claimed job's writes in this worker.</summary>
internal sealed class JobRuns(JobRunStore runStore, LiveEventPublisher events, ApprovalLinks approvalLinks, IOptions<WorkerOptions> options, ILogger<JobProcessor> logger)
{
    private readonly string _workerId = options.Value.Id;

    /// <param name="deferStepRows">Whether step rows wait for the next write (no opt-in step webhook event needs them at once).</param>
    public JobRun Start(ClaimedJob claimed, CancellationToken abort, bool deferStepRows) =>
        new(runStore, events, claimed, _workerId, abort, deferStepRows: deferStepRows, logger: logger, approvalLinks: approvalLinks);
}
