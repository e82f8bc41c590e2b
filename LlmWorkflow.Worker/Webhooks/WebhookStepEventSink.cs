using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.Logging;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// Wraps a job's progress sink for jobs that opted in to <c>workflow.step_completed</c>: each finished top-level step
/// (not replayed from a checkpoint) becomes an outbox event. Recording the event is best effort, like live events.
/// </summary>
internal sealed partial class WebhookStepEventSink(
    IProgressSink inner,
    WebhookOutbox outbox,
    ClaimedJob job,
    string webhookUrl,
    TimeProvider time,
    ILogger logger) : IProgressSink
{
    public async ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        await inner.PublishAsync(progressEvent, cancellationToken);
        if (progressEvent is not StepCompleted { Record: { FromCheckpoint: false, ParentStepId: null } record } completed)
        {
            return;
        }

        try
        {
            var payload = WebhookPayloads.StepCompleted(job, record, completed.Percent, time.GetUtcNow());
            await outbox.EnqueueAsync(job.Id, webhookUrl, payload, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStepEventFailed(ex, record.StepId, job.Id);
        }
    }

    /// <summary>The sink to run a job with: <paramref name="inner"/> wrapped when the job wants step events.</summary>
    public static async Task<IProgressSink> ForJobAsync(
        IProgressSink inner, WebhookOutbox outbox, ClaimedJob job, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var url = await outbox.FindOptInUrlAsync(job.Id, WebhookEventTypes.StepCompleted, cancellationToken);
        return url is null ? inner : new WebhookStepEventSink(inner, outbox, job, url, time, logger);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the step_completed webhook event of step {StepId} in job {JobId}")]
    private partial void LogStepEventFailed(Exception ex, string stepId, Guid jobId);
}
