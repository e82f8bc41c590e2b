using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace LlmWorkflow.Cli.Display;

/// <summary>The end of a run for people: the output JSON (or the error), then a per-step cost table with totals.</summary>
internal static class ResultView
{
    public static void Write(CliConsole console, string status, JsonNode? output, string? error, IReadOnlyList<StepCostRow> steps)
    {
        var ansi = console.Ansi;
        if (error is not null)
        {
            ansi.MarkupLine($"[red]{Markup.Escape(status)}:[/] {Markup.Escape(error)}");
        }
        else
        {
            ansi.Write(new Rule("[bold]Output[/]").LeftJustified());
            // Plain write: JSON must stay copyable, so Spectre must not wrap or interpret it.
            console.Out.WriteLine(output?.ToJsonString(CliJson.Indented) ?? "null");
        }

        ansi.Write(CostTable(steps));
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
