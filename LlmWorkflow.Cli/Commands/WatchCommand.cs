using System.CommandLine;
using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>watch &lt;job_id&gt;</c>: follows a job's Server-Sent Events with the progress display until it ends.</summary>
internal static class WatchCommand
{
    public static Command Create(CliConsole console)
    {
        var jobId = JobIdArgument.Create();
        var json = CommonOptions.Json("No progress display; print the final status JSON when the job ends.");
        var service = new ServiceOptions();
        var command = new Command("watch", "Follow a job live until it ends, then show its output and cost table. Exit 1 unless it completed.") { jobId, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            return await JobFollower.FollowAsync(client, parse.GetRequiredValue(jobId), console, parse.GetValue(json), cancellationToken);
        });
        return command;
    }
}
