namespace LlmWorkflow.Contracts;

// The bodies of the opt-in webhook events (submit's webhook_events): a job without them never builds one.

/// <summary>The body of a <c>workflow.step_completed</c> webhook (opt-in): one finished top-level step.</summary>
public sealed record StepWebhookBody(
    string Event,
    string JobId,
    string Status,
    string WorkflowName,
    string? UserId,
    StepWebhookStep Step,
    StepWebhookMetadata Metadata,
    DateTimeOffset Timestamp);

/// <param name="Percent">Share of top-level steps finished, counting this one.</param>
public sealed record StepWebhookStep(string StepId, string DisplayName, string Type, string Status, int DurationMs, int Percent);

/// <summary>The caller identity a step webhook carries.</summary>
public sealed record StepWebhookMetadata(string? Username, string? Action, int Attempt);

/// <summary>
/// The body of a <c>workflow.waiting</c> webhook (opt-in): the job parked at a sleep, a wait_for_event or an approval
/// step, and what it waits for (an approval's decision links included).
/// </summary>
public sealed record WaitingWebhookBody(
    string Event,
    string JobId,
    string Status,
    string WorkflowName,
    string? UserId,
    JobWait WaitingFor,
    StepWebhookMetadata Metadata,
    DateTimeOffset Timestamp);
