using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Local;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Diagrams;
using LlmWorkflow.Engine.Transforms;
using Spectre.Console;

namespace LlmWorkflow.Cli.Editing;

/// <summary>The editor's field menus: the workflow output, a step's fields and values, models, prompt files and on_error.</summary>
internal sealed partial class WorkflowEditor
{
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
}
