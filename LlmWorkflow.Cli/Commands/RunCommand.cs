using System.CommandLine;
using LlmWorkflow.Cli.Display;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>run &lt;workflow&gt;</c>: executes a workflow in this process (no Postgres, Redis or service) with live
/// progress, then prints the output and a cost table.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliConsole console)
    {
        var workflow = CommonOptions.Workflow();
        var workflows = CommonOptions.Workflows();
        var input = CommonOptions.Input();
        var mock = CommonOptions.Mock();
        var json = CommonOptions.Json("Print only the result JSON {workflow_name, status, output, error, duration_ms, cost_data, steps[]}; no progress.");
        var budget = new Option<decimal?>("--max-cost") { Description = "Budget in USD for this run; overrides the workflow's max_cost_usd." };
        var command = new Command("run", "Run a workflow locally with the real providers (API keys from the environment) or --mock.")
        {
            workflow, workflows, input, mock, json, budget,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var reference = WorkflowReference.Resolve(parse.GetRequiredValue(workflow), parse.GetValue(workflows), console);
            var data = WorkflowInput.Read(parse.GetValue(input), reference, console);
            await using var engine = LocalEngine.Create(reference.Folder, parse.GetValue(mock));
            var options = new WorkflowRunOptions { RunId = $"local-{Guid.NewGuid():N}", MaxCostUsd = parse.GetValue(budget) };

            WorkflowRunResult result;
            if (parse.GetValue(json))
            {
                result = await engine.Runner.RunAsync(reference.Definition, data, options, cancellationToken);
                await console.Out.WriteLineAsync(RunResultJson.ToJson(reference.Definition.Name, result).ToJsonString(CliJson.Indented));
            }
            else
            {
                var sink = new ChannelProgressSink();
                var display = ProgressDisplay.ShowAsync(sink.Reader, console, reference.Definition.Name, CancellationToken.None);
                RunProgress shown;
                try
                {
                    result = await engine.Runner.RunAsync(reference.Definition, data, options with { Progress = sink }, cancellationToken);
                }
                finally
                {
                    sink.Complete();
                    shown = await display;
                }

                ResultView.Write(console, RunResultJson.Status(result.Status), result.Output, result.Error?.Message, RunResultJson.CostRows(result), result.Models,
                    errorShown: shown.ErrorMessage is not null);
            }

            return result.Status == WorkflowRunStatus.Completed ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }
}
