using LlmWorkflow.Contracts;
using System.Threading.Channels;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Cli.Local;

/// <summary>
/// Hands a local run's progress events to the display as the wire records the service streams, so both show the
/// same and the runner never waits for the terminal.
/// </summary>
internal sealed class ChannelProgressSink : IProgressSink
{
    private readonly Channel<LiveJobEvent> _events = Channel.CreateUnbounded<LiveJobEvent>(new UnboundedChannelOptions { SingleReader = true });

    public ChannelReader<LiveJobEvent> Reader => _events.Reader;

    public ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        // llm_call_completed is for usage accounting; step_completed carries the same figures for display.
        if (progressEvent is not LlmCallCompleted)
        {
            _events.Writer.TryWrite(ProgressEventJson.ToWire(progressEvent));
        }

        return ValueTask.CompletedTask;
    }

    public void Complete() => _events.Writer.TryComplete();
}
