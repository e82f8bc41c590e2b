using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using Spectre.Console;

namespace LlmWorkflow.Cli.Display;

/// <summary>The end of a run for people: the output JSON (or the error), a per-step cost table with totals, and the cost per model.</summary>
internal static class ResultView
{
    /// <param name="errorShown">The progress display already printed the error: it is not repeated here.</param>
    public static void Write(CliConsole console, string status, JsonNode? output, string? error, IReadOnlyList<StepCostRow> steps, IReadOnlyList<ModelCost> models, bool errorShown = false)
    {
        var ansi = console.Ansi;
        if (error is not null)
        {
            if (!errorShown)
            {
                ansi.MarkupLine($"[red]{Markup.Escape(status)}:[/] {Markup.Escape(error)}");
            }
        }
        else
        {
            ansi.Write(new Rule("[bold]Output[/]").LeftJustified());
            // Plain write: JSON must stay copyable, so Spectre must not wrap or interpret it.
            console.Out.WriteLine(output?.ToJsonString(CliJson.Indented) ?? "null");
        }

        ansi.Write(CostTable(steps));
        if (models.Count > 0)
        {
            ansi.Write(ModelTable(models));
        }
    }

    /// <summary>cost_data.models: what each model was used for in total (a run may fall back or mix models).</summary>
    private static Table ModelTable(IReadOnlyList<ModelCost> models)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Cost by model")
            .AddColumn("Model").AddColumn(new TableColumn("Calls").RightAligned())
            .AddColumn(new TableColumn("Tokens in").RightAligned())
            .AddColumn(new TableColumn("Tokens out").RightAligned())
            .AddColumn(new TableColumn("Cost").RightAligned());
        foreach (var model in models)
        {
            var cost = model.CostUsd is null ? Format.Cost(null, unpriced: true) : Format.Cost(model.CostUsd, unpriced: false) + (model.Unpriced ? " + unpriced" : "");
            table.AddRow(Markup.Escape(model.Model), Number(model.Calls), Number(model.InputTokens), Number(model.OutputTokens), Markup.Escape(cost));
        }

        return table;
    }

    private static Table CostTable(IReadOnlyList<StepCostRow> steps)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Steps and cost")
            .AddColumn("Step").AddColumn("Type").AddColumn("Status").AddColumn("Model")
            .AddColumn(new TableColumn("Tokens in").RightAligned())
            .AddColumn(new TableColumn("Tokens out").RightAligned())
            .AddColumn(new TableColumn("Cost").RightAligned())
            .AddColumn(new TableColumn("Duration").RightAligned());
        foreach (var step in steps)
        {
            table.AddRow(
                Markup.Escape(step.StepKey == step.DisplayName ? step.StepKey : $"{step.DisplayName} ({step.StepKey})"),
                Markup.Escape(step.Type),
                Markup.Escape(step.Status),
                Markup.Escape(step.Model ?? "-"),
                Number(step.InputTokens),
                Number(step.OutputTokens),
                step.Model is null ? "-" : Markup.Escape(Format.Cost(step.CostUsd, unpriced: true)),
                Format.Duration(step.DurationMs));
        }

        var llm = steps.Where(s => s.Model is not null).ToList();
        var unpriced = llm.Any(s => s.CostUsd is null);
        var total = llm.Sum(s => s.CostUsd ?? 0);
        table.AddEmptyRow();
        table.AddRow(
            "[bold]Total[/]", "", "", "",
            Number(llm.Sum(s => s.InputTokens ?? 0)),
            Number(llm.Sum(s => s.OutputTokens ?? 0)),
            Markup.Escape(Format.Cost(llm.Count == 0 ? null : total, unpriced: false) + (unpriced ? " + unpriced" : "")),
            "");
        return table;
    }

    private static string Number(int? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "-";
}
