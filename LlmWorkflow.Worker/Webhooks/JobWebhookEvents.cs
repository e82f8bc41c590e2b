using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Worker.Webhooks;

// The webhook events a running job adds to the outbox (step_completed, waiting); WebhookDispatcher delivers them.

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

/// <summary>
/// Builds the step webhook body in the documents' shape. Terminal bodies are rendered from the finishing statement's
/// snapshot by <see cref="LlmWorkflow.Storage.Webhooks.WebhookBodies"/>.
/// </summary>
internal static class WebhookPayloads
{
    public static StepWebhookBody StepCompleted(ClaimedJob job, StepRecord step, int percent, DateTimeOffset timestamp) => new(
        WebhookEventTypes.StepCompleted,
        job.Id.ToString(),
        JobStatus.Processing.ToWire(),
        job.WorkflowName,
        job.UserId,
        new StepWebhookStep(step.StepId, step.DisplayName, step.Type, step.Status.ToWire(), (int)Math.Round(step.DurationMs), percent),
        new StepWebhookMetadata(job.Username, job.Action, job.Attempt),
        timestamp);

    public static WaitingWebhookBody Waiting(ClaimedJob job, JobWait waitingFor, DateTimeOffset timestamp) => new(
        WebhookEventTypes.Waiting,
        job.Id.ToString(),
        JobStatus.Waiting.ToWire(),
        job.WorkflowName,
        job.UserId,
        waitingFor,
        new StepWebhookMetadata(job.Username, job.Action, job.Attempt),
        timestamp);
}
