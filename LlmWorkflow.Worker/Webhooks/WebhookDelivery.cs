namespace LlmWorkflow.Worker.Webhooks;

/// <summary>A claimed pending attempt: which event to send where, and the job's own secret if it has one.</summary>
internal sealed record WebhookDelivery(
    Guid AttemptId,
    Guid JobId,
    string EventId,
    string EventType,
    int AttemptNumber,
    string WebhookUrl,
    string PayloadJson,
    string? JobSecret);
