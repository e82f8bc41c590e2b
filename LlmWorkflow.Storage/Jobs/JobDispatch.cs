namespace LlmWorkflow.Storage.Jobs;

/// <summary>What travels in a dispatch stream entry: the job id (Postgres holds everything else) and the trace context.</summary>
public sealed record JobDispatch(Guid JobId, int Priority, string? TraceParent = null, string? TraceState = null);

/// <summary>A dispatch entry read from a stream, with what is needed to acknowledge it.</summary>
public sealed record DispatchedJob(JobDispatch Dispatch, string StreamKey, string EntryId);
