using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Webhooks;

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
