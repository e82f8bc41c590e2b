namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// Body of <c>DELETE /api/v1/jobs/bulk</c>.
/// Init properties, not constructor parameters: System.Text.Json then reports a wrongly typed field with the field's
/// type (which the 400 turns into its JSON type) instead of the request's.
/// </summary>
public sealed record BulkDeleteRequest
{
    public IReadOnlyList<Guid>? JobIds { get; init; }
}

/// <summary>Which jobs were deleted (running ones are stopped by their workers) and which ids matched nothing.</summary>
public sealed record BulkDeleteResponse(int Deleted, IReadOnlyList<Guid> DeletedJobIds, IReadOnlyList<Guid> NotFound);

/// <summary>The answer to a cancel or retry request.</summary>
public sealed record JobActionResponse(Guid JobId, string Status, string Message);

/// <summary>Body of <c>PATCH /api/v1/jobs/{job_id}</c>: a scheduled job's new time, as a submission gives it.</summary>
public sealed record RescheduleJobRequest
{
    [System.ComponentModel.Description("The new time to run the job: RFC 3339 with an offset, in the future, at most a year ahead. Not with delay_seconds.")]
    public string? RunAt { get; init; }

    [System.ComponentModel.Description("Run this many seconds from now instead (1-31536000). Not with run_at.")]
    public long? DelaySeconds { get; init; }
}

/// <summary>Optional body of <c>POST /api/v1/jobs/{job_id}/retry</c>.</summary>
public sealed record RetryJobRequest
{
    [System.ComponentModel.Description("Rerun from this top-level step: the steps before it keep their checkpointed outputs (not paid again), it and those after it run again. Any finished job, completed included.")]
    public string? FromStep { get; init; }
}
