using System.CommandLine;
using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>status &lt;job_id&gt;</c>: a job's state, output and costs (<c>GET /api/v1/status/{id}</c>).</summary>
internal static class StatusCommand
{
    public static Command Create(CliConsole console)
    {
        var jobId = JobIdArgument.Create();
        var json = CommonOptions.Json("Print the service's status JSON.");
        var service = new ServiceOptions();
        var command = new Command("status", "Show a job's status; for a finished job its output and cost table. Exit 1 when it failed or was cancelled.") { jobId, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = service.Connect(parse, console);
            var status = await client.GetStatusAsync(parse.GetRequiredValue(jobId), cancellationToken);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(CliJson.Indent(status));
            }
            else
            {
                JobStatusView.Write(console, status);
            }

            // Queued and running jobs are not failures; only failed and cancelled ones are.
            return JobStatusView.Status(status) is "failed" or "cancelled" ? ExitCodes.Failure : ExitCodes.Success;
        });
        return command;
    }
}
