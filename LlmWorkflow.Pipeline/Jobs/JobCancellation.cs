using LlmWorkflow.Contracts;
using LlmWorkflow.Engine;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

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
    NpgsqlDataSource dataSource,
    JobLifecycleStore store,
    JobQueue queue,
    JobEventStream events,
    TimeProvider time,
    ILogger<JobCancellation> logger)
{
    // $1 job id.
    private const string WorkflowNameSql = "SELECT workflow_name FROM llm_workflow_jobs WHERE id = $1";

    public async Task<CancelStep> CancelAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (await store.CancelWaitingAsync(jobId, now, cancellationToken))
        {
            Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", await WorkflowNameAsync(jobId, cancellationToken)),
                new KeyValuePair<string, object?>("status", "cancelled"));
            await PublishCancelledAsync(jobId);
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

        return CancelStep.NotCancellable;
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

    private async Task<string?> WorkflowNameAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(WorkflowNameSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not announce the cancel of job {JobId}; its worker sees it at its next poll")]
    private partial void LogAnnounceFailed(Exception ex, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the cancelled event of job {JobId}")]
    private partial void LogPublishFailed(Exception ex, Guid jobId);
}
