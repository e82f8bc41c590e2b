using System.CommandLine;
using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>retry &lt;job_id&gt;</c>: queues a failed or cancelled job again (<c>POST /api/v1/jobs/{id}/retry</c>), optionally following it.</summary>
internal static class RetryCommand
{
    public static Command Create(CliConsole console)
    {
        var jobId = JobIdArgument.Create();
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the job until it ends (like `watch`)." };
        var json = CommonOptions.Json("Print the service's JSON answer (with --watch: the final status).");
        var service = new ServiceOptions();
        var command = new Command("retry", "Retry a failed or cancelled job; finished steps are reused from checkpoints. Exit 1 when the job cannot be retried.")
        {
            jobId, watch, json,
        };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var id = parse.GetRequiredValue(jobId);
            var answer = await client.RetryAsync(id, cancellationToken);
            if (parse.GetValue(watch))
            {
                return await JobFollower.FollowAsync(client, id, console, parse.GetValue(json), cancellationToken);
            }

            await console.Out.WriteLineAsync(parse.GetValue(json)
                ? answer.ToJsonString(CliJson.Indented)
                : $"job {(string?)answer["job_id"]}: {(string?)answer["status"]}. {(string?)answer["message"]}\n  llmwf watch {id}");
            return ExitCodes.Success;
        });
        return command;
    }
}
