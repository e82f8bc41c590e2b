using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>The job's signal inbox (<c>llm_job_signals</c>) as the engine's <c>wait_for_event</c> steps see it.</summary>
internal sealed class PostgresSignalInbox(JobLifecycleStore store) : ISignalInbox
{
    public async ValueTask<RunSignal?> TakeAsync(string runId, string eventName, string stepKey, CancellationToken cancellationToken) =>
        await store.TakeSignalAsync(Guid.Parse(runId), eventName, stepKey, cancellationToken);
}
