using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Api.Jobs;

/// <summary>A scheduled job's submit (Scheduling: <c>run_at</c>, <c>ttl_seconds</c>): the workers' wakers are told of its due time.</summary>
public sealed partial class SubmissionBatcher
{
    /// <summary>
    /// Tells the workers' wakers of a scheduled job's time, bounded like a dispatch: a lost notice only makes the job
    /// wait for a waker's next read of PostgreSQL or the reconciler's pass (seconds).
    /// </summary>
    private async Task AnnounceDueAsync(DateTimeOffset dueAt)
    {
        try
        {
            await queue.AnnounceDueAsync(dueAt).WaitAsync(queueOptions.Value.SubmitDispatchTimeout);
        }
        catch (Exception ex)
        {
            LogDueNoticeFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A scheduled job's due-time notice could not be published; the reconciler wakes it when due")]
    private partial void LogDueNoticeFailed(Exception ex);
}
