using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The store a <see cref="JobRun"/> hands its rows and its end to: the run's one way to PostgreSQL. The statements and
/// their guards are <see cref="JobLifecycleStore"/>'s; how they are sent is this class's matter: group commit
/// (<see cref="PostgresWriteBatcher"/>, many jobs' writes in one round trip and one commit) and, for writes that carry
/// a paid answer, a hold through a PostgreSQL outage (<see cref="HeldWrites"/>). Only a worker host registers it.
/// </summary>
public sealed class JobRunStore(JobLifecycleStore statements, PostgresWriteBatcher writes, HeldWrites held)
{
    /// <summary>A step's row (a checkpoint when <paramref name="checkpointOutput"/> is kept), to write now or with a later write.</summary>
    public static WriteStatement StepRow(Guid jobId, int jobAttempt, StepRecord record, JsonNode? checkpointOutput, bool isCheckpoint) =>
        JobLifecycleStore.StepStatement(jobId, jobAttempt, record, checkpointOutput, isCheckpoint);

    /// <summary>The usage row of one answered LLM call; its id is chosen here, so a retried write cannot add it twice.</summary>
    public static WriteStatement UsageRow(Guid jobId, string stepId, string workflowName, LlmCallResult call) =>
        JobLifecycleStore.UsageStatement(Guid.CreateVersion7(), jobId, stepId, workflowName, call);

    /// <summary>Whether a cancel of the job was accepted (or the job is gone); see <see cref="JobLifecycleStore.StopRequestedAsync(Guid, CancellationToken)"/>.</summary>
    public Task<bool> StopRequestedAsync(Guid jobId, CancellationToken cancellationToken) =>
        statements.StopRequestedAsync(jobId, cancellationToken);

    /// <summary>The newest checkpoint of a step from any earlier attempt of the job.</summary>
    public Task<(JsonNode? Output, StepRecordRow Row)?> TryGetCheckpointAsync(Guid jobId, string stepKey, CancellationToken cancellationToken) =>
        statements.TryGetCheckpointAsync(jobId, stepKey, cancellationToken);

    /// <summary>Gives a job back (worker shutting down); see <see cref="JobLifecycleStore.ReleaseStatement"/>.</summary>
    public Task ReleaseAsync(Guid jobId, string workerId, CancellationToken cancellationToken, int? attempt = null) =>
        writes.ExecuteAsync(jobId, [JobLifecycleStore.ReleaseStatement(jobId, workerId, attempt)], cancellationToken);

    /// <summary>Records the trace of the run attempt that just started (the job page links every attempt's trace).</summary>
    public Task RecordAttemptTraceAsync(Guid jobId, int attempt, string traceId, string workerId) =>
        writes.ExecuteAsync(jobId, [JobLifecycleStore.AttemptTraceStatement(jobId, attempt, traceId, workerId)], CancellationToken.None);

    /// <summary>The running step and the job's progress, for pollers.</summary>
    public Task UpdateProgressAsync(Guid jobId, string stepId, string stepName, int percent, CancellationToken cancellationToken) =>
        writes.ExecuteAsync(jobId, [JobLifecycleStore.ProgressStatement(jobId, stepId, stepName, percent)], cancellationToken);

    /// <summary>
    /// Writes a step record (or checkpoint), the first statement, and the usage rows of the LLM calls it paid for, in
    /// one transaction. False when the step row was refused because this run no longer owns the job's attempt (it was reclaimed,
    /// finished or deleted); the usage rows are written regardless while the job exists, because the calls were paid.
    /// </summary>
    public async Task<bool> WriteStepAsync(Guid jobId, IReadOnlyList<WriteStatement> rows, CancellationToken cancellationToken) =>
        (await writes.ExecuteAsync(jobId, rows, cancellationToken))[0] == 1;

    /// <summary>
    /// <see cref="WriteStepAsync"/> for rows that record paid work: held while PostgreSQL is unreachable (the run waits
    /// here), so an answer bought during an outage is stored once it returns.
    /// </summary>
    /// <param name="what">Names the write in logs and errors, e.g. <c>step "answer" of job …</c>.</param>
    public Task<bool> WriteHeldStepAsync(Guid jobId, IReadOnlyList<WriteStatement> rows, string what) =>
        held.WriteAsync(() => WriteStepAsync(jobId, rows, CancellationToken.None), HeldWrites.EstimateBytes(rows), what);

    /// <summary>
    /// Parks the running job on a step's wait after its unwritten step rows, in one transaction; false when this worker
    /// no longer owns the job or its cancel was requested meanwhile.
    /// </summary>
    public async Task<bool> ParkAsync(Guid jobId, string workerId, int attempt, RunWait wait, IReadOnlyList<WriteStatement> stepRows) =>
        (await writes.ExecuteAsync(jobId, [.. stepRows, JobLifecycleStore.ParkStatement(jobId, workerId, attempt, wait)], CancellationToken.None))[^1] == 1;

    /// <summary>
    /// Stores the outcome, releases the lease and records the terminal webhook event, in one statement; false when this
    /// worker no longer owns the running job.
    /// </summary>
    /// <param name="attempt">The attempt this run claimed (see <see cref="ReleaseAsync"/>); null for any attempt.</param>
    /// <param name="stepRows">Step rows the run has not written yet (<see cref="StepRow"/>), written first in the same transaction.</param>
    /// <param name="heldAs">When the step rows carry a paid answer: the name the write is held under through an outage.</param>
    public async Task<bool> FinishAsync(
        Guid jobId, string workerId, JobOutcome outcome, CancellationToken cancellationToken, int? attempt = null,
        IReadOnlyList<WriteStatement>? stepRows = null, string? heldAs = null)
    {
        IReadOnlyList<WriteStatement> rows = [.. stepRows ?? [], statements.FinishStatement(jobId, workerId, outcome, attempt)];
        async Task<bool> Finish() => (await writes.ExecuteAsync(jobId, rows, cancellationToken))[^1] == 1;
        return heldAs is null ? await Finish() : await held.WriteAsync(Finish, HeldWrites.EstimateBytes(stepRows ?? []), heldAs);
    }
}
