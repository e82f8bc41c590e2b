namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// The 202 answer to a submission: where to poll and roughly how long until a worker starts it (for a scheduled job,
/// the time until its <c>run_at</c> plus that).
/// </summary>
public sealed record JobAcceptedResponse(
    Guid JobId,
    string Status,
    string WorkflowName,
    DateTimeOffset CreatedAt,
    string StatusUrl,
    int EstimatedWaitSeconds,
    DateTimeOffset? RunAt = null);
