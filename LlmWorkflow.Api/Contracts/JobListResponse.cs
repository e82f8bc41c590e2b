namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// A page of job summaries, newest first. <see cref="Total"/> is exact when <see cref="TotalExact"/> is true; past
/// <see cref="JobListCount.ExactUpTo"/> matching jobs (and past the requested page) counting stops and it is a lower
/// bound: there are at least that many, and more pages follow.
/// </summary>
public sealed record JobListResponse(IReadOnlyList<JobSummary> Jobs, int Total, int Limit, int Offset, bool TotalExact)
{
    /// <summary>
    /// In the created_at order, when the page is full: the <c>cursor</c> of the next page (<see cref="JobListCursor"/>);
    /// null otherwise.
    /// </summary>
    public string? NextCursor { get; init; }
}

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
    decimal CostUsd,
    [property: System.ComponentModel.Description("The structured error of a failed job (type, category, retryable, ...), so a list can tell which failures a retry may fix.")]
    System.Text.Json.JsonDocument? Error = null)
{
    [System.ComponentModel.Description("The schedule whose tick started the job; null for a job submitted directly.")]
    public Guid? ScheduleId { get; init; }
}
