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
        var signals = new Option<string[]>("--signal")
        {
            Description = "A signal for a wait_for_event step, as event=JSON (repeatable), e.g. --signal 'approval={\"approved\": true}'. " +
                          "Sleeps are slept; a wait without its signal waits until its timeout.",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("run", "Run a workflow locally with the real providers (API keys from the environment) or --mock.")
        {
            workflow, workflows, input, mock, json, budget, signals,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var reference = WorkflowReference.Resolve(parse.GetRequiredValue(workflow), parse.GetValue(workflows), console);
            var data = WorkflowInput.Read(parse.GetValue(input), reference, console);
            await using var engine = LocalEngine.Create(reference.Folder, parse.GetValue(mock));
            var options = new WorkflowRunOptions { RunId = $"local-{Guid.NewGuid():N}", MaxCostUsd = parse.GetValue(budget) };
            var waits = new LocalWaits(parse.GetValue(signals) ?? []);
            void Waiting(RunWait wait) => console.Error.WriteLine(wait.Event is { } name
                ? $"Waiting at step \"{wait.StepId}\" for the \"{name}\" signal until {wait.Until:u} (give it with --signal {name}=JSON)."
                : $"Sleeping at step \"{wait.StepId}\" until {wait.Until:u}.");

            WorkflowRunResult result;
            if (parse.GetValue(json))
            {
                result = await waits.RunAsync(engine.Runner, reference.Definition, data, options, Waiting, TimeProvider.System, cancellationToken);
                await console.Out.WriteLineAsync(RunResultJson.ToJson(reference.Definition.Name, result).ToJsonString(CliJson.Indented));
            }
            else
            {
                var sink = new ChannelProgressSink();
                var display = ProgressDisplay.ShowAsync(sink.Reader, console, reference.Definition.Name, CancellationToken.None);
                RunProgress shown;
                try
                {
                    result = await waits.RunAsync(engine.Runner, reference.Definition, data, options with { Progress = sink }, Waiting, TimeProvider.System, cancellationToken);
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
