using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using LlmWorkflow.Pipeline.Approvals;
using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Turns a run's progress events into durable records (step rows, usage rows, the job's current step) and live
/// events (the job's Redis event stream, written in the background by <see cref="LiveEventPublisher"/>).
/// The job row's current step is written only for top-level steps still running after <see cref="ProgressDelay"/>:
/// pollers see every step that takes long enough to be seen, and fast steps cost no extra statement (the live
/// event stream still reports every step). Every finished step is logged with the job id, workflow, step and duration.
/// </summary>
internal sealed partial class JobProgressSink(
    JobLifecycleStore store,
    JobRunWriter writer,
    LiveEventPublisher events,
    ClaimedJob job,
    PostgresCheckpointStore checkpoints,
    ILogger? logger = null,
    CancellationTokenSource? stop = null,
    ApprovalLinks? approvalLinks = null) : IProgressSink
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public static readonly TimeSpan ProgressDelay = TimeSpan.FromMilliseconds(250);

    // Bumped by every top-level step start and finish; a delayed progress write only lands if nothing happened since.
    private int _progressVersion;

    public async ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        if (stop is not null && progressEvent is StepStarted { Type: StepTypes.Llm or StepTypes.ExternalApi }
            && await store.StopRequestedAsync(job.Id, cancellationToken))
        {
            // No paid step starts after a cancel was accepted, even if its notice has not reached this worker yet.
            await stop.CancelAsync();
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
            case StepCompleted { Record.FromCheckpoint: false } completed when !checkpoints.WasSaved(completed.Record.StepKey):
                await checkpoints.WriteRecordAsync(completed.Record);
                break;
            case LlmCallCompleted call:
                // Written with its step's row (checkpoint or record), in one transaction, held through an outage.
                checkpoints.AddUsage(call.StepKey ?? call.StepId, call.StepId, call.Result);
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

    private ProgressEvent? _outcome;

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
            await writer.UpdateProgressAsync(job.Id, started.StepId, started.DisplayName, started.Percent, CancellationToken.None);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // Progress on the job row is advisory; the step records and the live events carry the truth.
        }
    }

    // Per-step detail is Debug (and in the trace): Information is the job's one line (JobProcessor).
    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Step {StepId} ({StepType}, {StepKey}) of job {JobId} ({Workflow}) {StepStatus} in {DurationMs} ms; attempts {Attempts}, from checkpoint {FromCheckpoint}")]
    private static partial void LogStepFinished(
        ILogger logger, Guid jobId, string workflow, string stepId, string stepKey, string stepType, string stepStatus, double durationMs, int attempts, bool fromCheckpoint);
}
