using System.Collections.Concurrent;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Tests.Engine.Fakes;

/// <summary>Keeps every progress event in arrival order.</summary>
internal sealed class RecordingProgressSink : IProgressSink
{
    private readonly ConcurrentQueue<ProgressEvent> _events = new();

    public IReadOnlyList<ProgressEvent> Events => [.. _events];

    public IEnumerable<string> Describe() => Events.Select(e => e switch
    {
        StepStarted s => $"step_started:{s.StepKey}:{s.Percent}",
        StepCompleted c => $"step_completed:{c.Record.StepKey}:{c.Record.Status.ToWire()}:{c.Percent}",
        _ => e.Kind,
    });

    public ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        _events.Enqueue(progressEvent);
        return ValueTask.CompletedTask;
    }
}
