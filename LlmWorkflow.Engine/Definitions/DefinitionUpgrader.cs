using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Rewrites a definition written in the original documents' shape into this engine's shape, in place and keeping
/// key order: <c>external_api</c> <c>config.config</c> → <c>config.params</c>; <c>llm</c> <c>prompt_template</c> /
/// <c>system_template</c> → <c>prompt_file</c> / <c>system_file</c>; <c>${steps.x.data}</c> → <c>${steps.x.output}</c>;
/// bare <c>vendor/model</c> ids (OpenRouter ids in the documents) → <c>&lt;default provider&gt;/vendor/model</c>.
/// </summary>
/// <param name="defaultProvider">Provider that serves bare <c>vendor/model</c> ids, e.g. <c>openrouter</c>.</param>
/// <param name="knownProviders">Provider names that may start a model id (openai, anthropic, mock, configured ones).</param>
/// <param name="isPriced">Whether a full model id has a price; a bare id already priced as written is kept.</param>
public sealed partial class DefinitionUpgrader(string defaultProvider, IReadOnlyCollection<string> knownProviders, Func<string, bool> isPriced)
{
    /// <summary>Renames done per step type: (type, old key, new key, why).</summary>
    private static readonly (string Type, string From, string To, string Why)[] Renames =
    [
        (StepTypes.ExternalApi, "config", "params", "the documents' external_api parameters"),
        (StepTypes.Llm, "prompt_template", "prompt_file", "the documents' prompt path under workflows/prompts"),
        (StepTypes.Llm, "system_template", "system_file", "the documents' system prompt path under workflows/prompts"),
    ];

    /// <summary>Upgrades <paramref name="document"/> in place; returns what changed, each with its JSON path.</summary>
    public IReadOnlyList<DefinitionChange> Upgrade(JsonObject document)
    {
        var changes = new List<DefinitionChange>();
        if (document["steps"] is JsonArray steps)
        {
            UpgradeSteps(steps, "$.steps", changes);
        }

        RewriteExpressions(document, "$", changes);
        return changes;
    }

    private void UpgradeSteps(JsonArray steps, string path, List<DefinitionChange> changes)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i] is not JsonObject step)
            {
                continue;
            }

            var stepPath = $"{path}[{i}]";
            var type = step["type"] is JsonValue t && t.TryGetValue<string>(out var text) ? text : null;
            if (step["config"] is not JsonObject config)
            {
                continue;
            }

            foreach (var rename in Renames.Where(r => r.Type == type))
            {
                if (Rename(config, rename.From, rename.To))
                {
                    changes.Add(new($"{stepPath}.config.{rename.From}", $"renamed to {rename.To} ({rename.Why})"));
                }
            }

            if (type == StepTypes.Llm)
            {
                UpgradeModels(config, $"{stepPath}.config.model", changes);
            }

            foreach (var (key, nested) in NestedLists(type, config))
            {
                UpgradeSteps(nested, $"{stepPath}.config.{key}", changes);
            }
        }
    }

    private static IEnumerable<(string Key, JsonArray Steps)> NestedLists(string? type, JsonObject config)
    {
        switch (type)
        {
            case StepTypes.Conditional:
                foreach (var key in new[] { "then", "else" })
                {
                    if (config[key] is JsonArray list)
                    {
                        yield return (key, list);
                    }
                }

                break;
            case StepTypes.ForEach when config["steps"] is JsonArray body:
                yield return ("steps", body);
                break;
            case StepTypes.Parallel when config["branches"] is JsonObject branches:
                foreach (var (branch, node) in branches)
                {
                    if (node is JsonArray list)
                    {
                        yield return ($"branches.{branch}", list);
                    }
                }

                break;
        }
    }

    private void UpgradeModels(JsonObject config, string path, List<DefinitionChange> changes)
    {
        switch (config["model"])
        {
            case JsonValue value when value.TryGetValue<string>(out var id) && Resolve(id) is { } resolved:
                config["model"] = resolved;
                changes.Add(new(path, $"\"{id}\" → \"{resolved}\" (bare vendor/model id served by the default provider {defaultProvider})"));
                break;
            case JsonArray chain:
                for (var i = 0; i < chain.Count; i++)
                {
                    if (chain[i] is JsonValue entry && entry.TryGetValue<string>(out var chained) && Resolve(chained) is { } resolvedEntry)
                    {
                        chain[i] = resolvedEntry;
                        changes.Add(new($"{path}[{i}]", $"\"{chained}\" → \"{resolvedEntry}\" (bare vendor/model id served by the default provider {defaultProvider})"));
                    }
                }

                break;
        }
    }

    /// <summary>
    /// The id served by the default provider, or null to keep it: ids whose first segment is no provider
    /// (<c>meta-llama/…</c>), and ids of a known provider that are unpriced as written but priced there
    /// (<c>anthropic/claude-3.5-sonnet</c> is OpenRouter's spelling; Anthropic's own is <c>claude-3-5-sonnet-…</c>).
    /// </summary>
    public string? Resolve(string id)
    {
        var slash = id.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || id.StartsWith(defaultProvider + "/", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var viaDefault = $"{defaultProvider}/{id}";
        var vendor = id[..slash];
        if (!knownProviders.Contains(vendor, StringComparer.OrdinalIgnoreCase))
        {
            return viaDefault;
        }

        return !isPriced(id) && isPriced(viaDefault) ? viaDefault : null;
    }

    /// <summary>Rewrites <c>${steps.x.data…}</c> in every string of the document.</summary>
    private static void RewriteExpressions(JsonNode node, string path, List<DefinitionChange> changes)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, child) in obj.ToList())
                {
                    var childPath = $"{path}.{key}";
                    if (child is JsonValue value && Rewrite(value, childPath, changes) is { } rewritten)
                    {
                        obj[key] = rewritten;
                    }
                    else if (child is not null)
                    {
                        RewriteExpressions(child, childPath, changes);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var childPath = $"{path}[{i}]";
                    if (array[i] is JsonValue value && Rewrite(value, childPath, changes) is { } rewritten)
                    {
                        array[i] = rewritten;
                    }
                    else if (array[i] is { } child)
                    {
                        RewriteExpressions(child, childPath, changes);
                    }
                }

                break;
        }
    }

    private static string? Rewrite(JsonValue value, string path, List<DefinitionChange> changes)
    {
        if (value.GetValueKind() != JsonValueKind.String || value.GetValue<string>() is not { } text || !StepDataReference().IsMatch(text))
        {
            return null;
        }

        var rewritten = StepDataReference().Replace(text, "${steps.$1.output");
        changes.Add(new(path, $"\"{text}\" → \"{rewritten}\" (a step's result is steps.<id>.output)"));
        return rewritten;
    }

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/> at the same position; false when absent or <paramref name="to"/> exists.</summary>
    private static bool Rename(JsonObject obj, string from, string to)
    {
        var index = obj.IndexOf(from);
        if (index < 0 || obj.ContainsKey(to))
        {
            return false;
        }

        var value = obj[from];
        obj.RemoveAt(index);
        obj.Insert(index, to, value);
        return true;
    }

    /// <summary><c>${steps.&lt;id&gt;.data</c> not preceded by the <c>$</c> of the <c>$${</c> escape.</summary>
    [GeneratedRegex(@"(?<!\$)\$\{\s*steps\.([A-Za-z_][A-Za-z0-9_-]*)\.data(?=[.\[}?\s])")]
    private static partial Regex StepDataReference();
}

/// <summary>One rewrite of <see cref="DefinitionUpgrader"/>: where, and what it became.</summary>
public sealed record DefinitionChange(string JsonPath, string Description);
