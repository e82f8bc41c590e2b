using LlmWorkflow.Contracts;
using System.Threading.Channels;

namespace LlmWorkflow.Cli.Display;

/// <summary>Shows a run's events as they arrive: the live view on a terminal, plain lines otherwise.</summary>
internal static class ProgressDisplay
{
    /// <summary>Consumes <paramref name="events"/> until the writer completes; returns what the events said.</summary>
    public static Task<RunProgress> ShowAsync(ChannelReader<LiveJobEvent> events, CliConsole console, string title, CancellationToken cancellationToken) =>
        console.Interactive
            ? LiveProgressView.ShowAsync(events, console.Ansi, title, cancellationToken)
            : PlainProgressWriter.WriteAsync(events, console.Out, cancellationToken);
}
