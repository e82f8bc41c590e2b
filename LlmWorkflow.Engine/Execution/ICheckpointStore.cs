namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Durable per-step results of a run. The runner asks before each leaf step and saves after it finishes, so a
/// run resumed after a crash pays for no finished LLM call twice. The job pipeline provides the Postgres one.
/// </summary>
public interface ICheckpointStore
{
    ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken);

    ValueTask SaveAsync(string runId, StepCheckpoint checkpoint, CancellationToken cancellationToken);
}
