using System.Text.Json.Nodes;
using System.Threading.Channels;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Cli.Local;

/// <summary>
/// Hands a local run's progress events to the display in their wire form (the same JSON the service streams), so
/// the runner never waits for the terminal.
/// </summary>
internal sealed class ChannelProgressSink : IProgressSink
{
    private readonly Channel<JsonObject> _events = Channel.CreateUnbounded<JsonObject>(new UnboundedChannelOptions { SingleReader = true });

    public ChannelReader<JsonObject> Reader => _events.Reader;

    public ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        // llm_call_completed is for usage accounting; step_completed carries the same figures for display.
        if (progressEvent is not LlmCallCompleted)
        {
            _events.Writer.TryWrite(ProgressEventJson.ToJson(progressEvent));
        }

        return ValueTask.CompletedTask;
    }

    public void Complete() => _events.Writer.TryComplete();
}
