using System.Diagnostics;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Approvals;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Worker.Webhooks;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// A run that ends without finishing its job: handed back (shutdown, or PostgreSQL gone under it) for any worker to
/// resume, or parked on a step's wait until a waker queues it; and a job whose runs never finished, dead-lettered.
/// </summary>
internal sealed partial class UnfinishedRuns(
    JobLifecycleStore store,
    JobQueue queue,
    DueJobWaker waker,
    WebhookOutbox webhooks,
    ApprovalLinks approvalLinks,
    TimeProvider time,
    ILogger<JobProcessor> logger)
{
    /// <summary>
    /// Shutting down, or Postgres dropped out under the run (not the job's fault): hand the job back so a worker
    /// resumes it from its checkpoints. If Postgres is still down this throws and the job keeps its lease until it
    /// lapses; the reconciler then re-dispatches it.
    /// </summary>
    public async Task HandBackAsync(DispatchedJob dispatched, ClaimedJob claimed, JobRun run, string why, Activity? activity)
    {
        await run.HandBackAsync();
        await queue.EnqueueAsync(dispatched.Dispatch, CancellationToken.None);
        LogReleased(claimed.Id, why);
        activity?.SetTag("llmworkflow.job.status", "released");
    }

    /// <summary>A job started too often, its workers stopping each time: failed, and its stream entry dead-lettered.</summary>
    public async Task DeadLetterAsync(DispatchedJob dispatched, ClaimedJob claimed, JobRun run, Activity? activity)
    {
        var reason = $"The job was started {claimed.Attempt - 1} times and never finished (its workers stopped each time); it was dead-lettered.";
        var error = WorkflowException.System("too_many_attempts", reason).Error;
        await run.FinishAsync(new JobOutcome(JobStatus.Failed, null, error, 0, 0, 0m));
        await queue.DeadLetterAsync(dispatched, reason);
        activity.RecordFailure(error.Type, reason);
    }

    /// <summary>
    /// A step parked the run: the job waits, holding no slot, until <paramref name="wait"/>'s time, when a waker queues it
    /// and any worker resumes it from its checkpoints. This worker's waker and the others' (over Redis) hear of the time.
    /// </summary>
    /// <returns>Whether the job is parked (false: cancelled instead, or resumed at once by a signal that came first).</returns>
    public async Task<bool> ParkAsync(ClaimedJob claimed, JobRun run, RunWait wait, Activity? activity)
    {
        if (!await run.ParkAsync(wait))
        {
            return false; // finished as cancelled instead: its cancel was requested while it ran
        }

        activity?.SetTag("llmworkflow.job.status", JobStatus.Waiting.ToWire());
        LogParked(claimed.Id, wait.StepId, wait.Until);
        if (wait.Event is { } eventName && await store.ResumeOnSignalAsync(claimed.Id, eventName, CancellationToken.None) is { } resumed)
        {
            // The signal came while the run was on its way to the wait (its request found the job still running).
            await queue.EnqueueAsync(resumed, CancellationToken.None);
            return false;
        }

        await RecordWaitingEventAsync(claimed, wait);
        waker.Announce(wait.Until);
        try
        {
            await queue.AnnounceDueAsync(wait.Until);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // This worker's waker knows; the others read PostgreSQL within a minute.
        }

        return true;
    }

    /// <summary>
    /// The opt-in <c>workflow.waiting</c> webhook event of a parked job: what it waits for and, for an approval, its
    /// decision links. Best effort like step events: the job's wait does not depend on it.
    /// </summary>
    private async Task RecordWaitingEventAsync(ClaimedJob claimed, RunWait wait)
    {
        if (!claimed.HasWebhook || !claimed.WebhookEvents.Contains(WebhookEventTypes.Waiting))
        {
            return;
        }

        try
        {
            if (await webhooks.FindOptInUrlAsync(claimed.Id, WebhookEventTypes.Waiting, CancellationToken.None) is { } url)
            {
                var waitingFor = WaitDescriptions.Describe(claimed.Id, wait, approvalLinks);
                await webhooks.EnqueueAsync(claimed.Id, url, WebhookPayloads.Waiting(claimed, waitingFor, time.GetUtcNow()), CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or System.Security.Cryptography.CryptographicException)
        {
            LogWaitingEventFailed(ex, claimed.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} waits at step {StepId} until {Until:O}, holding no worker slot")]
    private partial void LogParked(Guid jobId, string stepId, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the workflow.waiting webhook event of job {JobId}")]
    private partial void LogWaitingEventFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} released for another worker ({Reason})")]
    private partial void LogReleased(Guid jobId, string reason);
}
