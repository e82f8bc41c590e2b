using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Display;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Execution;
using Spectre.Console;

namespace LlmWorkflow.Cli.Commands;

/// <summary>
/// <c>dry-run &lt;workflow&gt;</c>: the engine's plan of a run (every step, both conditional branches, rendered
/// prompts) with min/expected/max cost per step and in total; nothing is called.
/// </summary>
internal static class DryRunCommand
{
    public static Command Create(CliConsole console)
    {
        var workflow = CommonOptions.Workflow();
        var workflows = CommonOptions.Workflows();
        var input = CommonOptions.Input();
        var mock = CommonOptions.Mock();
        mock.Description = "Check models as `run --mock` would use them (no API keys needed); costs stay those of the named models.";
        var prompts = new Option<bool>("--prompts") { Description = "Also print each llm step's rendered prompt." };
        var json = CommonOptions.Json("Print the plan as JSON {valid, problems[], warnings[], steps[], min_cost_usd, expected_cost_usd, max_cost_usd, unpriced_models[]}.");
        var command = new Command("dry-run", "Show the execution plan and its min/expected/max cost without calling any model or service. Exit 1 when the plan has problems (a missing provider key is only a warning).")
        {
            workflow, workflows, input, mock, prompts, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var reference = WorkflowReference.Resolve(parse.GetRequiredValue(workflow), parse.GetValue(workflows), console);
            var data = WorkflowInput.Read(parse.GetValue(input), reference, console);
            await using var engine = LocalEngine.Create(reference.Folder, parse.GetValue(mock));
            var plan = engine.Planner.Plan(reference.Definition, data);
            var file = console.DisplayPath(reference.File);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(ToJson(plan, file).ToJsonString(CliJson.Indented));
            }
            else
            {
                Write(plan, reference.Definition.Name, file, parse.GetValue(prompts), console);
            }

            return IsValid(plan) ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    private static void Write(DryRunPlan plan, string name, string file, bool showPrompts, CliConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"Plan of {Markup.Escape(name)} (nothing called)")
            .AddColumn("Step").AddColumn("Type").AddColumn(new TableColumn("Runs").RightAligned()).AddColumn("Model")
            .AddColumn(new TableColumn("Tokens in").RightAligned())
            .AddColumn(new TableColumn("Tokens out min/exp/max").RightAligned())
            .AddColumn(new TableColumn("Min").RightAligned())
            .AddColumn(new TableColumn("Expected").RightAligned())
            .AddColumn(new TableColumn("Max").RightAligned());
        foreach (var step in plan.Steps)
        {
            var llm = step.Type == "llm";
            table.AddRow(
                Markup.Escape(new string(' ', step.Depth * 2) + (step.Branch is null ? "" : $"[{step.Branch}] ") + $"{step.DisplayName} ({step.Id})"),
                Markup.Escape(step.Type),
                Markup.Escape(step.Runs.ToString(CultureInfo.InvariantCulture) + (step.RunsUnknown ? "?" : "")),
                Markup.Escape(step.Models.Count == 0 ? "-" : string.Join(" → ", step.Models)),
                Number(step.EstimatedInputTokens),
                llm ? $"{Number(step.MinOutputTokens)}/{Number(step.ExpectedOutputTokens)}/{Number(step.MaxOutputTokens)}" : "-",
                Cost(step.MinCostUsd, llm), Cost(step.ExpectedCostUsd, llm), Cost(step.MaxCostUsd, llm));
        }

        table.AddEmptyRow();
        table.AddRow("[bold]Total[/]", "", "", "", "", "", Cost(plan.MinCostUsd, true), Cost(plan.ExpectedCostUsd, true), Cost(plan.MaxCostUsd, true));
        console.Ansi.Write(table);

        foreach (var note in plan.Steps.Where(s => s.Note is not null))
        {
            console.Out.WriteLine($"note: {note.Id}: {note.Note}");
        }

        if (plan.Steps.Any(s => s.RunsUnknown))
        {
            console.Out.WriteLine("Runs marked ? are inside a for_each whose items are only known at run time; they are counted once.");
        }

        if (plan.UnpricedModels.Count > 0)
        {
            console.Out.WriteLine($"Unpriced models (missing from the totals): {string.Join(", ", plan.UnpricedModels)}.");
        }

        if (showPrompts)
        {
            foreach (var step in plan.Steps.Where(s => s.RenderedPrompt is not null))
            {
                console.Ansi.Write(new Rule($"[bold]{Markup.Escape(step.Id)}[/] prompt").LeftJustified());
                console.Out.WriteLine(step.RenderedPrompt);
            }
        }

        foreach (var problem in plan.Problems)
        {
            var warning = ValidateCommand.IsWarning(problem);
            console.Out.WriteLine($"{file}:{problem.JsonPath}: {(warning ? "warning" : "error")} {problem.Code}: {problem.Message}");
            console.Out.WriteLine($"    hint: {(warning ? ValidateCommand.MissingKeyHint : problem.Hint)}");
        }

        foreach (var problem in plan.InputProblems)
        {
            console.Out.WriteLine($"input:{problem.Path}: {problem.Message}");
        }
    }

    /// <summary>Nothing is called, so a provider key missing on this machine is a warning, as in <c>validate</c>.</summary>
    private static bool IsValid(DryRunPlan plan) => plan.InputProblems.Count == 0 && plan.Problems.All(ValidateCommand.IsWarning);

    private static JsonObject ToJson(DryRunPlan plan, string file) => new()
    {
        ["valid"] = IsValid(plan),
        ["problems"] = new JsonArray([.. plan.Problems.Where(p => !ValidateCommand.IsWarning(p)).Select(p => new JsonObject
        {
            ["file"] = file, ["json_path"] = p.JsonPath, ["code"] = p.Code, ["message"] = p.Message, ["hint"] = p.Hint,
        })]),
        ["warnings"] = new JsonArray([.. plan.Problems.Where(ValidateCommand.IsWarning).Select(p => new JsonObject
        {
            ["file"] = file, ["json_path"] = p.JsonPath, ["code"] = p.Code, ["message"] = p.Message, ["hint"] = ValidateCommand.MissingKeyHint,
        })]),
        ["input_problems"] = new JsonArray([.. plan.InputProblems.Select(p => new JsonObject { ["json_path"] = p.Path, ["message"] = p.Message })]),
        ["steps"] = new JsonArray([.. plan.Steps.Select(s => new JsonObject
        {
            ["id"] = s.Id,
            ["display_name"] = s.DisplayName,
            ["type"] = s.Type,
            ["json_path"] = s.JsonPath,
            ["depth"] = s.Depth,
            ["parent_step_id"] = s.ParentStepId,
            ["branch"] = s.Branch,
            ["runs"] = s.Runs,
            ["runs_unknown"] = s.RunsUnknown,
            ["models"] = new JsonArray([.. s.Models.Select(m => (JsonNode?)JsonValue.Create(m))]),
            ["estimated_input_tokens"] = s.EstimatedInputTokens,
            ["min_output_tokens"] = s.MinOutputTokens,
            ["expected_output_tokens"] = s.ExpectedOutputTokens,
            ["max_output_tokens"] = s.MaxOutputTokens,
            ["min_cost_usd"] = s.MinCostUsd,
            ["expected_cost_usd"] = s.ExpectedCostUsd,
            ["max_cost_usd"] = s.MaxCostUsd,
            ["rendered_prompt"] = s.RenderedPrompt,
            ["resolved_config"] = s.ResolvedConfig?.DeepClone(),
            ["note"] = s.Note,
        })]),
        ["min_cost_usd"] = plan.MinCostUsd,
        ["expected_cost_usd"] = plan.ExpectedCostUsd,
        ["max_cost_usd"] = plan.MaxCostUsd,
        ["unpriced_models"] = new JsonArray([.. plan.UnpricedModels.Select(m => (JsonNode?)JsonValue.Create(m))]),
    };

    private static string Number(int? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "-";

    private static string Cost(decimal? usd, bool llm) => !llm ? "-" : Markup.Escape(Format.Cost(usd, unpriced: true));
}
