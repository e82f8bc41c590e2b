using System.Collections.Concurrent;

namespace LlmWorkflow.Engine.Execution;

/// <summary>Process-local checkpoints for tests and command-line runs.</summary>
public sealed class InMemoryCheckpointStore : ICheckpointStore
{
    private readonly ConcurrentDictionary<(string RunId, string StepKey), StepCheckpoint> _checkpoints = new();

    public ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_checkpoints.GetValueOrDefault((runId, stepKey)));

    public ValueTask SaveAsync(string runId, StepCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        _checkpoints[(runId, checkpoint.StepKey)] = checkpoint;
        return ValueTask.CompletedTask;
    }
}
