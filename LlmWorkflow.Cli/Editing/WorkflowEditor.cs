using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Diagrams;
using LlmWorkflow.Engine.Transforms;
using Spectre.Console;

namespace LlmWorkflow.Cli.Editing;

/// <summary>
/// The interactive editor behind <c>llmwf edit</c>: the steps as a tree with each step's validation problems beside
/// it, menus for adding, removing, moving, duplicating and editing steps (with the schema's choices: step types,
/// models from the pricing file, transforms from the registry, prompt files), undo, the Mermaid diagram and the
/// dry-run cost on demand, and a save that refuses to write a definition with problems unless confirmed.
/// Every menu accepts typing to jump to an entry.
/// </summary>
internal sealed class WorkflowEditor
{
    private const string Back = "← back";
    private static readonly string[] MockModels = ["mock/echo", "mock/json"];

    private readonly DefinitionDocument _document;
    private readonly IAnsiConsole _console;
    private readonly LocalEngine _engine;
    private readonly WorkflowsFolder? _folder;
    private readonly TransformRegistry _transforms = TransformRegistry.CreateDefault();
    private string _status = "";

    public WorkflowEditor(DefinitionDocument document, IAnsiConsole console, LocalEngine engine, WorkflowsFolder? folder)
    {
        _document = document;
        _console = console;
        _engine = engine;
        _folder = folder;
    }

    private enum MainAction
    {
        AddStep,
        Output,
        Undo,
        Diagram,
        DryRun,
        Save,
        Quit,
    }

    /// <summary>
    /// Runs until the author quits; returns whether the last state was saved. Esc closes the open menu or dialog
    /// (at the main menu it is Quit); Ctrl+C is Quit from anywhere: both ask first when there are unsaved edits.
    /// </summary>
    public bool Run()
    {
        while (true)
        {
            var problems = Validate();
            var steps = _document.Steps();
            _console.Clear();
            WriteHeader(problems);
            Choice choice;
            try
            {
                choice = _console.Prompt(MainMenu(steps, problems));
            }
            catch (EditorInterrupt)
            {
                if (ConfirmQuit(problems))
                {
                    return !_document.IsDirty;
                }

                continue;
            }

            try
            {
                if (Act(choice.Value, steps, problems))
                {
                    return !_document.IsDirty;
                }
            }
            catch (EditorInterrupt interrupt) when (interrupt.Key == EditorKey.Escape)
            {
                _status = "closed (Esc)";
            }
            catch (EditorInterrupt)
            {
                if (ConfirmQuit(problems))
                {
                    return !_document.IsDirty;
                }
            }
        }
    }

    /// <summary>Does what the main menu entry stands for; true when the editor should end.</summary>
    private bool Act(object choice, IReadOnlyList<StepNode> steps, IReadOnlyList<ValidationProblem> problems)
    {
        switch (choice)
        {
            case StepNode node:
                StepMenu(node);
                break;
            case MainAction.AddStep:
                AddStep(_document.Root["steps"] as JsonArray ?? [], (_document.Root["steps"] as JsonArray)?.Count ?? 0, steps.LastOrDefault(s => s.Depth == 0));
                break;
            case MainAction.Output:
                OutputMenu(steps);
                break;
            case MainAction.Undo:
                _status = _document.Undo() is { } undone ? $"undid: {undone}" : "nothing to undo";
                break;
            case MainAction.Diagram:
                ShowDiagram();
                break;
            case MainAction.DryRun:
                ShowDryRun();
                break;
            case MainAction.Save:
                Save(problems);
                break;
            case MainAction.Quit:
                return ConfirmQuit(problems);
        }

        return false;
    }

    /// <summary>Whether to end: at once when everything is saved, else as the author answers (Esc keeps editing).</summary>
    private bool ConfirmQuit(IReadOnlyList<ValidationProblem> problems)
    {
        if (!_document.IsDirty)
        {
            return true;
        }

        const string keep = "Keep editing";
        const string save = "Save and quit";
        const string discard = "Discard the changes and quit";
        string answer;
        try
        {
            answer = _console.Prompt(new SelectionPrompt<string>()
                .Title("[yellow]There are unsaved changes.[/] [grey](Esc: keep editing; Ctrl+C again: discard and quit)[/]")
                .EnableSearch()
                .AddChoices(keep, save, discard));
        }
        catch (EditorInterrupt interrupt)
        {
            answer = interrupt.Key == EditorKey.CtrlC ? discard : keep;
        }

        if (answer == save)
        {
            try
            {
                Save(problems);
            }
            catch (EditorInterrupt)
            {
                // Esc or Ctrl+C at "Save anyway?": not saved, keep editing.
            }

            return !_document.IsDirty;
        }

        return answer == discard;
    }

    private void WriteHeader(IReadOnlyList<ValidationProblem> problems)
    {
        var state = _document.IsDirty ? "[yellow]modified[/]" : "[green]saved[/]";
        var verdict = problems.Count == 0 ? "[green]valid[/]" : $"[red]{problems.Count} problem(s)[/]";
        _console.MarkupLine($"[bold]llmwf edit[/] {Markup.Escape(_document.Path)}  {state}  {verdict}");
        foreach (var problem in problems.Where(p => StepOf(p) is null).Take(3))
        {
            _console.MarkupLine($"  [red]⚠ {Markup.Escape(Shorten($"{problem.JsonPath}: {problem.Message}", _console.Profile.Width - 6))}[/]");
        }

        if (_status.Length > 0)
        {
            _console.MarkupLine($"[grey]{Markup.Escape(_status)}[/]");
        }
    }

    private SelectionPrompt<Choice> MainMenu(IReadOnlyList<StepNode> steps, IReadOnlyList<ValidationProblem> problems)
    {
        var width = _console.Profile.Width - 6;
        var choices = steps.Select(node => new Choice(StepLabel(node, ProblemsOf(node, steps, problems), width), node)).ToList();
        choices.Add(new Choice("+ Add step", MainAction.AddStep));
        choices.Add(new Choice($"⇥ Workflow output = {Markup.Escape(OutputPreview())}", MainAction.Output));
        choices.Add(new Choice("↶ Undo", MainAction.Undo));
        choices.Add(new Choice("◇ Diagram (Mermaid)", MainAction.Diagram));
        choices.Add(new Choice("$ Dry-run cost", MainAction.DryRun));
        choices.Add(new Choice("✔ Save", MainAction.Save));
        choices.Add(new Choice("✖ Quit", MainAction.Quit));
        return new SelectionPrompt<Choice>()
            .Title($"[bold]{Markup.Escape(_document.Name)}[/]: choose a step to edit, or an action (type to search; Esc or Ctrl+C quits)")
            .PageSize(Math.Max(10, Math.Min(choices.Count + 1, _console.Profile.Height - 8)))
            .EnableSearch()
            .UseConverter(c => c.Text)
            .AddChoices(choices);
    }

    private static string StepLabel(StepNode node, IReadOnlyList<ValidationProblem> problems, int width)
    {
        var indent = new string(' ', node.Depth * 2) + (node.Depth > 0 ? $"└ [grey]{Markup.Escape(node.Block ?? "")}:[/] " : "");
        var name = node.DisplayName is { } display && display != node.Id ? $"  [grey]{Markup.Escape(display)}[/]" : "";
        var label = $"{indent}{Markup.Escape(node.Id)} [blue]({Markup.Escape(node.Type)})[/]{name}";
        if (problems.Count == 0)
        {
            return label;
        }

        var plainLength = Markup.Remove(label).Length;
        var first = problems[0];
        var more = problems.Count > 1 ? $" (+{problems.Count - 1})" : "";
        var room = Math.Max(20, width - plainLength - 6 - more.Length);
        return $"{label}  [red]⚠ {Markup.Escape(Shorten(first.Message, room))}{more}[/]";
    }

    private void StepMenu(StepNode node)
    {
        var actions = new List<string> { "Edit a field" };
        if (node.Type == StepTypes.Llm)
        {
            actions.Add("Change model");
        }

        actions.AddRange(["Move up", "Move down", "Move into a branch, arm or body", "Duplicate", "Add a step after this one", "Remove", Back]);
        var action = _console.Prompt(new SelectionPrompt<string>()
            .Title($"Step [bold]{Markup.Escape(node.Id)}[/] ({Markup.Escape(node.Type)}) at {Markup.Escape(node.JsonPath)}")
            .EnableSearch()
            .AddChoices(actions));
        switch (action)
        {
            case "Edit a field":
                EditField(node);
                break;
            case "Change model":
                ChangeModel(node);
                break;
            case "Move up":
                _document.Move(node, -1);
                break;
            case "Move down":
                _document.Move(node, +1);
                break;
            case "Move into a branch, arm or body":
                MoveInto(node);
                break;
            case "Duplicate":
                _document.Duplicate(node);
                break;
            case "Add a step after this one":
                AddStep(node.Container, node.Index + 1, node);
                break;
            case "Remove":
                _document.Remove(node);
                _status = $"removed {node.Id} (undo brings it back)";
                break;
        }
    }

    private void AddStep(JsonArray container, int index, StepNode? previous)
    {
        var type = _console.Prompt(new SelectionPrompt<string>().Title("Step type").EnableSearch().AddChoices(StepTypes.All));
        var id = _console.Prompt(new TextPrompt<string>("Step id:")
            .Validate(text => !StepId.IsValid(text) ? ValidationResult.Error("Start with a letter or _; letters, digits, _ and - only.")
                : _document.IsUsedId(text) ? ValidationResult.Error($"\"{text}\" is already used.") : ValidationResult.Success()));
        var displayName = _console.Prompt(new TextPrompt<string>("Display name (shown in progress UIs):").DefaultValue(id));
        var previousOutput = previous is null ? "${input}" : $"${{steps.{previous.Id}.output}}";
        JsonObject config = type switch
        {
            StepTypes.Llm => new JsonObject { ["model"] = ChooseModel(null), ["prompt"] = "Write about {{topic}}." },
            StepTypes.Transform => new JsonObject
            {
                ["operation"] = _console.Prompt(new SelectionPrompt<string>().Title("Transform").EnableSearch().AddChoices(_transforms.Names)),
                ["input"] = _console.Prompt(new TextPrompt<string>("input (an expression):").DefaultValue(previousOutput)),
            },
            StepTypes.ExternalApi => new JsonObject { ["service"] = "http", ["operation"] = "get", ["params"] = new JsonObject { ["url"] = "https://example.com" } },
            StepTypes.Conditional => new JsonObject { ["condition"] = "exists(input.flag)", ["then"] = new JsonArray(), ["else"] = new JsonArray() },
            StepTypes.Parallel => new JsonObject { ["mode"] = "wait_all", ["branches"] = new JsonObject { ["a"] = new JsonArray(), ["b"] = new JsonArray() } },
            StepTypes.ForEach => new JsonObject { ["items"] = "${input.items}", ["steps"] = new JsonArray() },
            _ => [],
        };
        var step = new JsonObject { ["id"] = id, ["type"] = type, ["display_name"] = displayName, ["config"] = config };
        _document.Insert(container, index, step);
        _status = _document.Root["output"] is null
            ? $"added {id}"
            : $"added {id}; the job output is the workflow output, which does not use it yet (⇥ Workflow output)";
    }

    /// <summary>The workflow's own <c>output</c>: the template resolved over the step outputs when the run ends.</summary>
    private void OutputMenu(IReadOnlyList<StepNode> steps)
    {
        const string useStep = "Use one step's output";
        const string addField = "Add a field from a step's output";
        const string removeField = "Remove a field";
        const string asJson = "Edit as JSON or text";
        const string useLast = "Use the last step's output (no output template)";
        var current = _document.Root["output"];
        var actions = new List<string> { useStep, addField };
        if (current is JsonObject { Count: > 0 })
        {
            actions.Add(removeField);
        }

        actions.AddRange([asJson, useLast, Back]);
        var action = _console.Prompt(new SelectionPrompt<string>()
            .Title($"Workflow output = [bold]{Markup.Escape(OutputPreview())}[/] (the job's output when the run ends)")
            .EnableSearch()
            .AddChoices(actions));
        JsonNode? output;
        switch (action)
        {
            case useStep:
                output = StepOutput(steps, "Step whose output is the job output");
                break;
            case addField:
                var step = StepOutput(steps, "Step whose output the field holds");
                var key = _console.Prompt(new TextPrompt<string>("Field name:").DefaultValue(step.ToString()["${steps.".Length..^".output}".Length]));
                output = current is JsonObject fields ? fields.DeepClone() : new JsonObject();
                output[key] = step;
                break;
            case removeField:
                output = current!.DeepClone();
                output.AsObject().Remove(_console.Prompt(new SelectionPrompt<string>().Title("Field to remove").EnableSearch().AddChoices(current.AsObject().Select(p => p.Key))));
                break;
            case asJson:
                output = Text("output", current);
                break;
            case useLast:
                output = null;
                break;
            default:
                return;
        }

        _document.Set(_document.Root, "output", output, "set the workflow output");
        _status = $"workflow output = {OutputPreview()}";
    }

    private JsonValue StepOutput(IReadOnlyList<StepNode> steps, string title) =>
        JsonValue.Create($"${{steps.{_console.Prompt(new SelectionPrompt<string>().Title(title).EnableSearch().AddChoices(steps.Select(s => s.Id)))}.output}}");

    private string OutputPreview() => _document.Root["output"] is { } output ? Preview(output) : "(the last step's output)";

    private void EditField(StepNode node)
    {
        var fields = new List<(string Label, JsonObject Owner, string Key)>();
        foreach (var key in new[] { "id", "display_name", "description", "type", "timeout_seconds", "on_error" })
        {
            fields.Add(($"{key} = {Preview(node.Step[key])}", node.Step, key));
        }

        if (node.Config is { } config)
        {
            foreach (var (key, value) in config.Where(p => !IsNestedSteps(node.Type, p.Key)).ToList())
            {
                fields.Add(($"config.{key} = {Preview(value)}", config, key));
            }
        }

        var chosen = _console.Prompt(new SelectionPrompt<string>()
            .Title($"Field of [bold]{Markup.Escape(node.Id)}[/]")
            .EnableSearch()
            .AddChoices([.. fields.Select(f => f.Label), "+ add a config key", Back]));
        if (chosen == Back)
        {
            return;
        }

        if (chosen == "+ add a config key")
        {
            var key = _console.Prompt(new TextPrompt<string>("Config key:"));
            var owner = node.Config ?? [];
            if (node.Config is null)
            {
                _document.Set(node.Step, "config", owner, $"add config to {node.Id}");
            }

            EditValue(node, owner, key, owner[key]);
            return;
        }

        var field = fields.First(f => f.Label == chosen);
        EditValue(node, field.Owner, field.Key, field.Owner[field.Key]);
    }

    /// <summary>Asks for a new value: a choice where the schema has one, else text (JSON when it parses, empty removes).</summary>
    private void EditValue(StepNode node, JsonObject owner, string key, JsonNode? current)
    {
        var isConfig = !ReferenceEquals(owner, node.Step);
        JsonNode? value = (isConfig, key, node.Type) switch
        {
            (false, "type", _) => Choose("Step type", StepTypes.All, current),
            (false, "on_error", _) => OnError(current),
            (true, "model", StepTypes.Llm) => ChooseModel(current),
            (true, "operation", StepTypes.Transform) => Choose("Transform", _transforms.Names, current),
            (true, "prompt_file" or "system_file", StepTypes.Llm) => Choose("Prompt file", PromptFiles(), current),
            (true, "response_format", StepTypes.Llm) => Choose("Response format", ["text", "json"], current),
            (true, "mode", StepTypes.Parallel) => Choose("Mode", ["fail_fast", "wait_all"], current),
            _ => Text(key, current),
        };
        if (key == "id" && !isConfig && value is JsonValue id && (!StepId.IsValid(id.ToString()) || _document.IsUsedId(id.ToString())) && id.ToString() != node.Id)
        {
            _status = $"not changed: \"{id}\" is not a valid, unused step id";
            return;
        }

        _document.Set(owner, key, value, $"set {node.Id}.{(isConfig ? "config." : "")}{key}");
        _status = $"{node.Id}: {(isConfig ? "config." : "")}{key} = {Preview(value)}";
    }

    private void ChangeModel(StepNode node)
    {
        if (node.Config is not { } config)
        {
            return;
        }

        if (config["model"] is JsonArray chain && chain.Count > 0)
        {
            // A fallback chain: the primary model changes, the fallbacks stay.
            var primary = ChooseModel(chain[0]);
            _document.Change($"set {node.Id}.config.model[0]", () => chain[0] = primary);
            _status = $"{node.Id}: primary model = {primary}";
            return;
        }

        EditValue(node, config, "model", config["model"]);
    }

    private void MoveInto(StepNode node)
    {
        var targets = _document.Blocks(node);
        if (targets.Count == 0)
        {
            _status = "there is no parallel branch, conditional arm or for_each body to move into";
            return;
        }

        var target = _console.Prompt(new SelectionPrompt<StepBlockTarget>().Title($"Move [bold]{Markup.Escape(node.Id)}[/] into")
            .EnableSearch().UseConverter(t => Markup.Escape(t.Label)).AddChoices(targets));
        var atStart = _console.Prompt(new SelectionPrompt<string>().Title("Where in it").EnableSearch().AddChoices("at the end", "at the start")) == "at the start";
        _document.MoveInto(node, target, atStart);
        _status = $"moved {node.Id} into {target.Label}";
    }

    private JsonNode ChooseModel(JsonNode? current) => Choose("Model (priced in pricing.json)", Models(), current)!;

    private JsonNode? Choose(string title, IEnumerable<string> options, JsonNode? current)
    {
        var list = options.ToList();
        var now = current is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
        if (now is not null && list.Remove(now))
        {
            list.Insert(0, now);
        }

        return JsonValue.Create(_console.Prompt(new SelectionPrompt<string>().Title(title).PageSize(15).EnableSearch().AddChoices(list)));
    }

    private JsonNode? OnError(JsonNode? current)
    {
        var mode = Choose("on_error", ["fail", "retry", "continue", "default"], current is JsonObject policy ? policy["mode"] : current)!.ToString();
        return mode switch
        {
            "retry" => new JsonObject { ["mode"] = "retry", ["max_attempts"] = 3, ["backoff_seconds"] = 1 },
            "default" => new JsonObject { ["mode"] = "default", ["value"] = current is JsonObject { } old && old["value"] is { } kept ? kept.DeepClone() : null },
            _ => JsonValue.Create(mode),
        };
    }

    private JsonNode? Text(string key, JsonNode? current)
    {
        var wasText = current is JsonValue value && value.GetValueKind() == JsonValueKind.String;
        var shown = current is null ? "" : wasText ? current.GetValue<string>() : current.ToJsonString();
        var prompt = new TextPrompt<string>($"{Markup.Escape(key)} (empty removes it):").AllowEmpty();
        if (shown.Length > 0)
        {
            prompt.DefaultValue(shown);
        }

        var entered = _console.Prompt(prompt);
        if (entered.Length == 0)
        {
            return null;
        }

        if (wasText)
        {
            return JsonValue.Create(entered);
        }

        try
        {
            return JsonNode.Parse(entered);
        }
        catch (JsonException)
        {
            return JsonValue.Create(entered);
        }
    }

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

    /// <summary>A menu entry: its markup text and what it stands for (a step or an action).</summary>
    private sealed record Choice(string Text, object Value)
    {
        /// <summary>What typing searches: Spectre matches the choice's ToString, so it must be the visible text.</summary>
        public override string ToString() => Markup.Remove(Text);
    }
}
