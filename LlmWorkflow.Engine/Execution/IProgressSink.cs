namespace LlmWorkflow.Engine.Execution;

/// <summary>Receives a run's progress events in order. Called from concurrent branches, so implementations must be thread-safe.</summary>
public interface IProgressSink
{
    ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken);
}
