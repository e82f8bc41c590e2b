using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Cli.Editing;

/// <summary>
/// A definition file opened for editing: the JSON tree (System.Text.Json.Nodes keeps key order, so an untouched
/// part saves exactly as it was read), the step tree over it, the edit operations and their undo history.
/// </summary>
internal sealed class DefinitionDocument
{
    private readonly Stack<(string Json, string What)> _undo = new();
    private string _savedJson;

    public DefinitionDocument(string path, string json)
    {
        Path = path;
        Root = Parse(json);
        _savedJson = Serialize();
    }

    public string Path { get; }

    public JsonObject Root { get; private set; }

    public bool IsDirty => Serialize() != _savedJson;

    public bool CanUndo => _undo.Count > 0;

    public string Name => Root["name"] is JsonValue name && name.TryGetValue<string>(out var text) ? text : System.IO.Path.GetFileNameWithoutExtension(Path);

    /// <summary>The file's text: two-space indentation, non-ASCII kept, a final newline (the repository's format).</summary>
    public string Serialize() => Root.ToJsonString(CliJson.Indented) + "\n";

    public void MarkSaved() => _savedJson = Serialize();

    /// <summary>Every step, depth first in file order, nested steps after their parent.</summary>
    public IReadOnlyList<StepNode> Steps()
    {
        var nodes = new List<StepNode>();
        if (Root["steps"] is JsonArray steps)
        {
            Walk(steps, "$.steps", 0, null, nodes);
        }

        return nodes;
    }

    /// <summary>Step lists a step can be moved into (not those inside <paramref name="moving"/> itself).</summary>
    public IReadOnlyList<StepBlockTarget> Blocks(StepNode moving) =>
        [.. Steps().Where(n => !IsInside(n.JsonPath, moving.JsonPath)).SelectMany(BlocksOf)];

    /// <summary>Runs <paramref name="change"/> as one undoable edit named <paramref name="what"/>.</summary>
    public void Change(string what, Action change)
    {
        var before = Serialize();
        change();
        if (Serialize() != before)
        {
            _undo.Push((before, what));
        }
    }

    /// <summary>Reverts the last edit; returns what it was, or null when there is nothing to undo.</summary>
    public string? Undo()
    {
        if (!_undo.TryPop(out var last))
        {
            return null;
        }

        Root = Parse(last.Json);
        return last.What;
    }

    public void Insert(JsonArray container, int index, JsonObject step) => Change($"add {step["id"]}", () => container.Insert(index, step));

    public void Remove(StepNode node) => Change($"remove {node.Id}", () => node.Container.RemoveAt(node.Index));

    /// <summary>Moves a step up (-1) or down (+1) within its list.</summary>
    public void Move(StepNode node, int delta)
    {
        var target = node.Index + delta;
        if (target < 0 || target >= node.Container.Count)
        {
            return;
        }

        Change($"move {node.Id}", () =>
        {
            node.Container.RemoveAt(node.Index);
            node.Container.Insert(target, node.Step);
        });
    }

    public void MoveInto(StepNode node, StepBlockTarget target, bool atStart) => Change($"move {node.Id} into {target.Label}", () =>
    {
        node.Container.RemoveAt(node.Index);
        if (atStart)
        {
            target.Steps.Insert(0, node.Step);
        }
        else
        {
            target.Steps.Add(node.Step);
        }
    });

    /// <summary>A copy right after the original; it and its nested steps get unused ids (<c>x_copy</c>, <c>x_copy2</c>…).</summary>
    public void Duplicate(StepNode node)
    {
        var copy = node.Step.DeepClone().AsObject();
        var used = Steps().Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        Renumber(copy, used);
        Change($"duplicate {node.Id}", () => node.Container.Insert(node.Index + 1, copy));
    }

    /// <summary>Sets (or with null, removes) <paramref name="key"/> of <paramref name="owner"/>, keeping its place in the key order.</summary>
    public void Set(JsonObject owner, string key, JsonNode? value, string what) => Change(what, () =>
    {
        if (value is null)
        {
            owner.Remove(key);
        }
        else
        {
            owner[key] = value;
        }
    });

    public bool IsUsedId(string id) => Steps().Any(s => s.Id == id);

    private static JsonObject Parse(string json) =>
        JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
            ?? throw new UsageException("The definition is not a JSON object.");

    private static void Walk(JsonArray steps, string path, int depth, string? block, List<StepNode> nodes)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i] is not JsonObject step)
            {
                continue;
            }

            var node = new StepNode(step, steps, i, $"{path}[{i}]", depth, block);
            nodes.Add(node);
            foreach (var target in BlocksOf(node))
            {
                Walk(target.Steps, target.JsonPath, depth + 1, target.Label.Split(' ')[0], nodes);
            }
        }
    }

    private static IEnumerable<StepBlockTarget> BlocksOf(StepNode node)
    {
        if (node.Config is not { } config)
        {
            yield break;
        }

        var path = $"{node.JsonPath}.config";
        switch (node.Type)
        {
            case StepTypes.Parallel when config["branches"] is JsonObject branches:
                foreach (var (name, list) in branches)
                {
                    if (list is JsonArray steps)
                    {
                        yield return new(steps, $"{name} (branch of {node.Id})", $"{path}.branches.{name}");
                    }
                }

                break;
            case StepTypes.Conditional:
                foreach (var arm in new[] { "then", "else" })
                {
                    if (config[arm] is JsonArray steps)
                    {
                        yield return new(steps, $"{arm} (of {node.Id})", $"{path}.{arm}");
                    }
                }

                break;
            case StepTypes.ForEach when config["steps"] is JsonArray body:
                yield return new(body, $"body (for_each {node.Id})", $"{path}.steps");
                break;
        }
    }

    private static bool IsInside(string path, string ancestor) =>
        path == ancestor || (path.StartsWith(ancestor, StringComparison.Ordinal) && path[ancestor.Length] is '.' or '[');

    private static void Renumber(JsonNode node, HashSet<string> used)
    {
        if (node is JsonObject obj)
        {
            if (obj["id"] is JsonValue id && id.TryGetValue<string>(out var text) && obj.ContainsKey("type"))
            {
                var candidate = text + "_copy";
                for (var n = 2; used.Contains(candidate); n++)
                {
                    candidate = $"{text}_copy{n}";
                }

                used.Add(candidate);
                obj["id"] = candidate;
            }

            foreach (var (_, child) in obj.ToList())
            {
                if (child is not null)
                {
                    Renumber(child, used);
                }
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var child in array)
            {
                if (child is not null)
                {
                    Renumber(child, used);
                }
            }
        }
    }
}
