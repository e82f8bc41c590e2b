using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Diagrams;
using LlmWorkflow.Engine.Transforms;
using Spectre.Console;

namespace LlmWorkflow.Cli.Editing;

/// <summary>The editor's save, diagram, dry run and validation, and the small helpers its menus share.</summary>
internal sealed partial class WorkflowEditor
{
    private void Save(IReadOnlyList<ValidationProblem> problems)
    {
        if (problems.Count > 0 && !_console.Confirm($"[red]{problems.Count} problem(s) remain[/] (shown beside the steps). Save anyway?", defaultValue: false))
        {
            _status = $"not saved: {problems.Count} problem(s)";
            return;
        }

        File.WriteAllText(_document.Path, _document.Serialize());
        _document.MarkSaved();
        _status = problems.Count == 0 ? $"saved {_document.Path}" : $"saved {_document.Path} with {problems.Count} problem(s)";
    }

    private void ShowDiagram()
    {
        _console.Clear();
        if (Load() is { } definition)
        {
            _console.Write(new Panel(Markup.Escape(MermaidDiagram.Generate(definition))).Header(" Mermaid ").Expand());
        }
        else
        {
            _console.MarkupLine("[red]The definition does not load; fix the problems first.[/]");
        }

        Pause();
    }

    private void ShowDryRun()
    {
        _console.Clear();
        if (Load() is not { } definition)
        {
            _console.MarkupLine("[red]The definition does not load; fix the problems first.[/]");
            Pause();
            return;
        }

        var example = _folder is null ? null : Path.Combine(_folder.Examples, definition.Name + ".json");
        var input = example is not null && File.Exists(example) ? JsonNode.Parse(File.ReadAllText(example)) : new JsonObject();
        var plan = _engine.Planner.Plan(definition, input);
        var table = new Table().Border(TableBorder.Rounded).Title($"Dry run of {Markup.Escape(definition.Name)} ({(example is not null && File.Exists(example) ? "example input" : "empty input")})")
            .AddColumn("Step").AddColumn("Models").AddColumn(new TableColumn("Min").RightAligned())
            .AddColumn(new TableColumn("Expected").RightAligned()).AddColumn(new TableColumn("Max").RightAligned());
        foreach (var step in plan.Steps.Where(s => s.Models.Count > 0))
        {
            table.AddRow(Markup.Escape(step.Id), Markup.Escape(string.Join(", ", step.Models)), Usd(step.MinCostUsd), Usd(step.ExpectedCostUsd), Usd(step.MaxCostUsd));
        }

        table.AddRow("[bold]Total[/]", "", Usd(plan.MinCostUsd), Usd(plan.ExpectedCostUsd), Usd(plan.MaxCostUsd));
        _console.Write(table);
        if (plan.UnpricedModels.Count > 0)
        {
            _console.MarkupLine($"[yellow]Unpriced: {Markup.Escape(string.Join(", ", plan.UnpricedModels))}[/]");
        }

        Pause();
    }

    private void Pause() => _console.Prompt(new TextPrompt<string>("[grey]Enter to go back[/]").AllowEmpty());

    private WorkflowDefinition? Load()
    {
        var loaded = WorkflowDefinitionLoader.Parse(_document.Serialize(), Path.GetFileName(_document.Path));
        return loaded.Problems.Count == 0 ? loaded.Definition : null;
    }

    /// <summary>Load problems, then the validator's (models checked as with --mock: keys are the deployment's business).</summary>
    private List<ValidationProblem> Validate()
    {
        var file = Path.GetFileName(_document.Path);
        var loaded = WorkflowDefinitionLoader.Parse(_document.Serialize(), file);
        var problems = loaded.Problems.ToList();
        if (loaded.Definition is { } definition && problems.Count == 0)
        {
            problems.AddRange(_engine.Validator.Validate(definition, file));
        }

        return problems;
    }

    /// <summary>The problems of a step itself: under its path but not under a nested step's.</summary>
    private static List<ValidationProblem> ProblemsOf(StepNode node, IReadOnlyList<StepNode> steps, IReadOnlyList<ValidationProblem> problems) =>
        [.. problems.Where(p => StepOf(p, steps) == node)];

    private StepNode? StepOf(ValidationProblem problem) => StepOf(problem, _document.Steps());

    private static StepNode? StepOf(ValidationProblem problem, IReadOnlyList<StepNode> steps) =>
        steps.Where(s => Under(problem.JsonPath, s.JsonPath)).MaxBy(s => s.JsonPath.Length);

    private static bool Under(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] is '.' or '[');

    private IEnumerable<string> Models()
    {
        var priced = new List<string>();
        if (_folder is not null && File.Exists(_folder.Pricing) && JsonNode.Parse(File.ReadAllText(_folder.Pricing))?["models"] is JsonObject models)
        {
            priced.AddRange(models.Select(m => m.Key).Where(id => !id.EndsWith('*')));
        }

        return priced.Order(StringComparer.Ordinal).Concat(MockModels).Distinct(StringComparer.Ordinal);
    }

    private IEnumerable<string> PromptFiles() =>
        _folder is null || !Directory.Exists(_folder.Prompts)
            ? []
            : Directory.EnumerateFiles(_folder.Prompts, "*.md", SearchOption.AllDirectories)
                .Select(path => Path.GetRelativePath(_folder.Prompts, path).Replace('\\', '/'))
                .Order(StringComparer.Ordinal);

    private static bool IsNestedSteps(string type, string key) => (type, key) is
        (StepTypes.Parallel, "branches") or (StepTypes.Conditional, "then" or "else") or (StepTypes.ForEach, "steps");

    private static string Preview(JsonNode? value) => value is null ? "(not set)" : Shorten(value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value.ToJsonString(), 60);

    private static string Shorten(string text, int max)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= max ? line : line[..Math.Max(1, max - 1)] + "…";
    }

    private static string Usd(decimal? usd) => usd is { } value ? "$" + value.ToString("0.000000", CultureInfo.InvariantCulture) : "-";
}
