namespace LlmWorkflow.Engine.Execution;

/// <summary>Discards progress events.</summary>
public sealed class NullProgressSink : IProgressSink
{
    public static NullProgressSink Instance { get; } = new();

    public ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
