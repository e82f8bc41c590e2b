namespace LlmWorkflow.Api.Contracts;

/// <summary>The 202 answer to a submission: where to poll and roughly how long until a worker starts it.</summary>
public sealed record JobAcceptedResponse(
    Guid JobId,
    string Status,
    string WorkflowName,
    DateTimeOffset CreatedAt,
    string StatusUrl,
    int EstimatedWaitSeconds);
