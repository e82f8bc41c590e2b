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
internal sealed partial class WorkflowEditor
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

    /// <summary>A menu entry: its markup text and what it stands for (a step or an action).</summary>
    private sealed record Choice(string Text, object Value)
    {
        /// <summary>What typing searches: Spectre matches the choice's ToString, so it must be the visible text.</summary>
        public override string ToString() => Markup.Remove(Text);
    }
}
