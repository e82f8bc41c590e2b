using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Sends a run's writes — release, progress, step and usage rows, finish — through the worker's
/// <see cref="PostgresWriteBatcher"/>, which commits many jobs' writes in one round trip. The statements and their
/// guards are <see cref="JobLifecycleStore"/>'s; only a worker host registers this class and the batcher.
/// </summary>
public sealed class JobRunWriter(JobLifecycleStore store, PostgresWriteBatcher writes)
{
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
    public async Task<bool> WriteStepAsync(Guid jobId, IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken) =>
        (await writes.ExecuteAsync(jobId, statements, cancellationToken))[0] == 1;

    /// <summary>
    /// Parks the running job on a step's wait after its unwritten step rows, in one transaction; false when this worker
    /// no longer owns the job or its cancel was requested meanwhile.
    /// </summary>
    public async Task<bool> ParkAsync(Guid jobId, string workerId, int attempt, LlmWorkflow.Engine.Execution.RunWait wait, IReadOnlyList<WriteStatement> stepRows) =>
        (await writes.ExecuteAsync(jobId, [.. stepRows, JobLifecycleStore.ParkStatement(jobId, workerId, attempt, wait)], CancellationToken.None))[^1] == 1;

    /// <summary>
    /// Stores the outcome, releases the lease and records the terminal webhook event, in one statement; false when this
    /// worker no longer owns the running job.
    /// </summary>
    /// <param name="attempt">The attempt this run claimed (see <see cref="ReleaseAsync"/>); null for any attempt.</param>
    /// <param name="stepRows">Step rows the run has not written yet (<see cref="JobLifecycleStore.StepStatement"/>),
    /// written first in the same transaction.</param>
    public async Task<bool> FinishAsync(
        Guid jobId, string workerId, JobOutcome outcome, CancellationToken cancellationToken, int? attempt = null, IReadOnlyList<WriteStatement>? stepRows = null) =>
        (await writes.ExecuteAsync(jobId, [.. stepRows ?? [], store.FinishStatement(jobId, workerId, outcome, attempt)], cancellationToken))[^1] == 1;
}
