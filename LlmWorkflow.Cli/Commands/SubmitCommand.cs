using System.CommandLine;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Cli.Remote;

namespace LlmWorkflow.Cli.Commands;

/// <summary><c>submit &lt;workflow_name&gt;</c>: queues a job on the service (<c>POST /api/v1/workflow</c>), optionally following it.</summary>
internal static class SubmitCommand
{
    public static Command Create(CliConsole console)
    {
        var workflow = new Argument<string>("workflow_name") { Description = "Name of a workflow in the service's catalog." };
        var input = new Option<string?>("--input", "-i") { Description = "input_data: a JSON file or inline JSON. Default: workflows/examples/<workflow_name>.json when present (as `run` uses it), else {}." };
        var workflows = CommonOptions.Workflows();
        workflows.Description = "The local workflows folder whose examples/ supply the default input. Default: the nearest workflows/ above the current directory.";
        var priority = new Option<int?>("--priority", "-p") { Description = "0-10, higher runs first." };
        var userId = new Option<string?>("--user-id") { Description = "user_id recorded on the job." };
        var username = new Option<string?>("--username") { Description = "Who triggered it (informational)." };
        var action = new Option<string?>("--action") { Description = "What the user was doing (informational)." };
        var webhook = new Option<string?>("--webhook-url") { Description = "Where the service POSTs the signed result." };
        var budget = new Option<decimal?>("--max-cost") { Description = "Budget in USD (budget_usd)." };
        var tier = new Option<string?>("--service-tier") { Description = "service_tier: standard (default), flex (OpenAI's flex processing, half price, may wait) or batch (a provider batch, half price, the job waits parked until it ends)." };
        var deadline = new Option<string?>("--deadline") { Description = "deadline for flex (RFC 3339, e.g. 2026-12-01T09:00:00Z); alone it implies flex." };
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the job's progress until it ends (like `watch`)." };
        var json = CommonOptions.Json("Print the service's JSON answer (with --watch: the final status).");
        var service = new ServiceOptions();
        var command = new Command("submit", "Submit a job to a running service.") { workflow, input, workflows, priority, userId, username, action, webhook, budget, tier, deadline, watch, json };
        service.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetRequiredValue(workflow);
            var (inputData, example) = Input(parse.GetValue(input), name, parse.GetValue(workflows), console);
            if (example is not null && !parse.GetValue(json))
            {
                await console.Out.WriteLineAsync($"input_data from {console.DisplayPath(example)}");
            }

            var request = new JsonObject
            {
                ["workflow_name"] = name,
                ["input_data"] = inputData,
                ["priority"] = parse.GetValue(priority),
                ["user_id"] = parse.GetValue(userId),
                ["username"] = parse.GetValue(username),
                ["action"] = parse.GetValue(action),
                ["webhook_url"] = parse.GetValue(webhook),
                ["budget_usd"] = parse.GetValue(budget),
                ["service_tier"] = parse.GetValue(tier),
                ["deadline"] = parse.GetValue(deadline),
            };
            using var client = service.Connect(parse, console);
            var accepted = await client.SubmitAsync(request, cancellationToken);
            var jobId = (string?)accepted["job_id"] ?? throw new ServiceException($"The service answered without a job_id: {accepted.ToJsonString()}");
            if (parse.GetValue(watch))
            {
                if (!parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync($"submitted job {jobId}");
                }

                return await JobFollower.FollowAsync(client, jobId, console, parse.GetValue(json), cancellationToken);
            }

            await console.Out.WriteLineAsync(parse.GetValue(json)
                ? accepted.ToJsonString(CliJson.Indented)
                : $"submitted job {jobId} ({(string?)accepted["status"]}, estimated wait {(int?)accepted["estimated_wait_seconds"]} s)\n  llmwf watch {jobId}\n  llmwf status {jobId}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>--input when given; else the workflow's sample input from the local examples folder, as `run` does; else {}.</summary>
    private static (JsonNode Input, string? ExampleFile) Input(string? value, string workflowName, string? workflowsOption, CliConsole console)
    {
        if (value is not null)
        {
            return (WorkflowInput.Parse(value, console), null);
        }

        var example = WorkflowsFolder.Find(workflowsOption, console.WorkingDirectory) is { } folder
            ? Path.Combine(folder.Examples, workflowName + ".json")
            : null;
        return example is not null && File.Exists(example)
            ? (WorkflowInput.Parse(example, console), example)
            : (new JsonObject(), null);
    }
}
