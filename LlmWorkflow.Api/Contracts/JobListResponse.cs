namespace LlmWorkflow.Api.Contracts;

/// <summary>A page of job summaries, newest first.</summary>
public sealed record JobListResponse(IReadOnlyList<JobSummary> Jobs, int Total, int Limit, int Offset);

/// <summary>One row of the jobs list (document 003's JobSummary plus progress, tokens and cost).</summary>
public sealed record JobSummary(
    Guid JobId,
    string WorkflowName,
    string Status,
    int Priority,
    string? UserId,
    string? Username,
    string? Action,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    int? DurationMs,
    string? ErrorMessage,
    string? CurrentStepId,
    string? CurrentStepName,
    int ProgressPercent,
    int TotalTokens,
    decimal CostUsd);
