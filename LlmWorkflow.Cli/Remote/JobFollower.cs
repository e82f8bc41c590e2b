using LlmWorkflow.Contracts;
using System.Threading.Channels;
using LlmWorkflow.Cli.Display;

namespace LlmWorkflow.Cli.Remote;

/// <summary>Follows a job's event stream with the progress display, then prints its final state (used by watch and submit --watch).</summary>
internal static class JobFollower
{
    private static readonly TimeSpan FinalStatusWait = TimeSpan.FromSeconds(10);

    /// <param name="json">Print only the final status JSON, no progress.</param>
    public static async Task<int> FollowAsync(ServiceClient client, string jobId, CliConsole console, bool json, CancellationToken cancellationToken)
    {
        if (json)
        {
            await foreach (var _ in client.StreamEventsAsync(jobId, cancellationToken))
            {
                // Only the end matters; the stream returns after the terminal event.
            }
        }
        RunProgress? shown = null;
        if (!json)
        {
            var events = Channel.CreateUnbounded<LiveJobEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var display = ProgressDisplay.ShowAsync(events.Reader, console, $"job {jobId}", CancellationToken.None);
            try
            {
                await foreach (var e in client.StreamEventsAsync(jobId, cancellationToken))
                {
                    events.Writer.TryWrite(e.Data);
                }
            }
            finally
            {
                events.Writer.TryComplete();
                shown = await display;
            }
        }

        var status = await FinalStatusAsync(client, jobId, cancellationToken);
        if (json)
        {
            await console.Out.WriteLineAsync(CliJson.Indent(status));
        }
        else
        {
            JobStatusView.Write(console, status, errorShown: shown?.ErrorMessage is not null);
        }

        return JobStatusView.ExitCode(status);
    }

    /// <summary>The status once the database shows the end too: the terminal event can arrive just before that write.</summary>
    private static async Task<JobStatusResponse> FinalStatusAsync(ServiceClient client, string jobId, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + FinalStatusWait;
        while (true)
        {
            var status = await client.GetStatusAsync(jobId, cancellationToken);
            if (JobStatusView.TerminalStatuses.Contains(JobStatusView.Status(status)) || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }
}
