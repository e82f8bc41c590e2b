namespace LlmWorkflow.Api.Contracts;

/// <summary>Body of <c>DELETE /api/v1/jobs/bulk</c>.</summary>
public sealed record BulkDeleteRequest(IReadOnlyList<Guid>? JobIds);

/// <summary>Which jobs were deleted (running ones are stopped by their workers) and which ids matched nothing.</summary>
public sealed record BulkDeleteResponse(int Deleted, IReadOnlyList<Guid> DeletedJobIds, IReadOnlyList<Guid> NotFound);

/// <summary>The answer to a cancel or retry request.</summary>
public sealed record JobActionResponse(Guid JobId, string Status, string Message);
