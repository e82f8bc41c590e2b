using LlmWorkflow.Contracts;
using LlmWorkflow.Engine;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>What a cancel did.</summary>
public enum CancelStep
{
    /// <summary>The job was waiting (queued, scheduled or parked) and is now cancelled.</summary>
    Cancelled,

    /// <summary>The job is running; its worker stops it at once, and it ends cancelled whatever its run does meanwhile.</summary>
    CancelRequested,

    /// <summary>Neither: the job has finished, or there is no such job.</summary>
    NotCancellable,
}

/// <summary>
/// The one cancel path, shared by the API's cancel and delete commands and a schedule's <c>cancel_previous</c> policy:
/// the statements are <see cref="JobLifecycleStore"/>'s; this class orders them and tells Redis (the cancelled live
/// event of a waiting job, the stop notice to a running job's worker).
/// </summary>
public sealed partial class JobCancellation(
    JobLifecycleStore store,
    JobQueue queue,
    JobEventStream events,
    TenantConcurrency tenantCaps,
    TimeProvider time,
    ILogger<JobCancellation> logger)
{
    public async Task<CancelStep> CancelAsync(Guid jobId, CancellationToken cancellationToken)
    {
        // A job that moved between the two statements (processing -> waiting as it parks, waiting -> processing as it
        // resumes) matched neither guard: the pair is tried again, a few times, before the job is called finished.
        for (var round = 0; round < 3; round++)
        {
            if (await TryCancelAsync(jobId, cancellationToken) is { } step)
            {
                return step;
            }
        }

        return CancelStep.NotCancellable;
    }

    private async Task<CancelStep?> TryCancelAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (await store.CancelWaitingAsync(jobId, now, cancellationToken) is { } cancelled)
        {
            Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", cancelled.WorkflowName),
                new KeyValuePair<string, object?>("status", "cancelled"));
            await PublishCancelledAsync(jobId);
            await ReleaseSlotAsync(jobId, cancelled);
            return CancelStep.Cancelled;
        }

        if (await store.RequestCancelAsync(jobId, now, cancellationToken))
        {
            // From this commit on the job ends cancelled: its worker's finish stores "cancelled" whatever the run's
            // outcome, and checks before each paid step. The notice only makes the worker stop at once.
            try
            {
                await queue.AnnounceCancelAsync(jobId);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                LogAnnounceFailed(ex, jobId);
            }

            return CancelStep.CancelRequested;
        }

        return null;
    }

    /// <summary>Publishes the job's cancelled live event; a failure is logged (the status and webhook still say so).</summary>
    public async Task PublishCancelledAsync(Guid jobId)
    {
        try
        {
            await events.PublishAsync(new JobCancelledEvent(jobId.ToString(), time.GetUtcNow()));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogPublishFailed(ex, jobId);
        }
    }

    /// <summary>
    /// A queued job of a capped tenant (or with a concurrency key) held one of their slots: the next job they hold is
    /// queued now, as a worker does when a job ends. A failure is left to the reconciler's backstop, within its interval.
    /// </summary>
    private async Task ReleaseSlotAsync(Guid jobId, CancelledWaitingJob cancelled)
    {
        var tenantCap = tenantCaps.CapOf(cancelled.TenantId);
        if (!cancelled.WasQueued || (tenantCap is null && cancelled.ConcurrencyKey is null))
        {
            return;
        }

        try
        {
            var resumed = await store.ResumeForSlotAsync(cancelled.TenantId, tenantCap, cancelled.ConcurrencyKey, cancelled.ConcurrencyLimit, shares: null, CancellationToken.None);
            foreach (var job in resumed)
            {
                await queue.EnqueueAsync(job.Dispatch, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or StackExchange.Redis.RedisException or TimeoutException)
        {
            LogSlotReleaseFailed(ex, jobId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not announce the cancel of job {JobId}; its worker sees it at its next poll")]
    private partial void LogAnnounceFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not queue the job waiting for the slot cancelled job {JobId} held; the reconciler will")]
    private partial void LogSlotReleaseFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the cancelled event of job {JobId}")]
    private partial void LogPublishFailed(Exception ex, Guid jobId);
}
