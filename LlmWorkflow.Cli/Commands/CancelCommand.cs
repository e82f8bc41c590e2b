using System.CommandLine;
using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>cancel &lt;job_id&gt;</c>: cancels a waiting job or asks a running one to stop (<c>DELETE /api/v1/workflow/{id}</c>).</summary>
internal static class CancelCommand
{
    public static Command Create(CliConsole console)
    {
        var jobId = JobIdArgument.Create();
        var json = CommonOptions.Json("Print the service's JSON answer.");
        var service = new ServiceOptions();
        var command = new Command("cancel", "Cancel a job. Exit 1 when it already finished or does not exist.") { jobId, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var answer = await client.CancelAsync(parse.GetRequiredValue(jobId), cancellationToken);
            await console.Out.WriteLineAsync(parse.GetValue(json)
                ? answer.ToJsonString(CliJson.Indented)
                : $"job {(string?)answer["job_id"]}: {(string?)answer["status"]}. {(string?)answer["message"]}");
            return ExitCodes.Success;
        });
        return command;
    }
}
