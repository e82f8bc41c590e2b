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
