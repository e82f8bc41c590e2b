using System.Text.Json.Nodes;

namespace LlmWorkflow.Storage.Versions;

/// <summary>One difference between two workflow versions: a step, a workflow-level field, a prompt file or a price row.</summary>
/// <param name="Kind">step, workflow, prompt or price.</param>
/// <param name="Id">The step id, the workflow field, the prompt path or the model.</param>
/// <param name="Change">added, removed or changed (from the first version to the second).</param>
/// <param name="Fields">For a changed step: its differing fields (<c>config.model</c>, <c>display_name</c>, …).</param>
public sealed record VersionDifference(string Kind, string Id, string Change, IReadOnlyList<string> Fields);

/// <summary>A simple per-step JSON diff of two versions, for the job page's "differs from the current version".</summary>
public static class VersionDiff
{
    public static IReadOnlyList<VersionDifference> Between(WorkflowVersion from, WorkflowVersion to)
    {
        var differences = new List<VersionDifference>();
        foreach (var key in Keys(from.DefinitionJson, to.DefinitionJson).Where(k => k is not "steps"))
        {
            Compare(differences, "workflow", key, from.DefinitionJson[key], to.DefinitionJson[key], fields: null);
        }

        var (stepsFrom, stepsTo) = (Steps(from.DefinitionJson), Steps(to.DefinitionJson));
        foreach (var id in stepsFrom.Keys.Union(stepsTo.Keys, StringComparer.Ordinal))
        {
            var (a, b) = (stepsFrom.GetValueOrDefault(id), stepsTo.GetValueOrDefault(id));
            Compare(differences, "step", id, a, b, a is null || b is null ? null : StepFields(a, b));
        }

        foreach (var path in Keys(from.Prompts, to.Prompts))
        {
            Compare(differences, "prompt", path, from.Prompts[path], to.Prompts[path], fields: null);
        }

        foreach (var model in Keys(from.Prices, to.Prices))
        {
            Compare(differences, "price", model, from.Prices[model], to.Prices[model], fields: null);
        }

        return differences;
    }

    private static void Compare(List<VersionDifference> differences, string kind, string id, JsonNode? a, JsonNode? b, IReadOnlyList<string>? fields)
    {
        if (JsonNode.DeepEquals(a, b))
        {
            return;
        }

        var change = a is null ? "added" : b is null ? "removed" : "changed";
        differences.Add(new VersionDifference(kind, id, change, fields ?? []));
    }

    /// <summary>The step's own fields and each config member that differ (nested steps show as their parent's config member).</summary>
    private static List<string> StepFields(JsonObject a, JsonObject b)
    {
        var fields = Keys(a, b).Where(k => k != "config" && !JsonNode.DeepEquals(a[k], b[k])).ToList();
        var (configA, configB) = (a["config"] as JsonObject ?? [], b["config"] as JsonObject ?? []);
        fields.AddRange(Keys(configA, configB).Where(k => !JsonNode.DeepEquals(configA[k], configB[k])).Select(k => "config." + k));
        return fields;
    }

    private static IEnumerable<string> Keys(JsonObject a, JsonObject b) =>
        a.Select(p => p.Key).Union(b.Select(p => p.Key), StringComparer.Ordinal).Order(StringComparer.Ordinal);

    /// <summary>Every step object of a definition by id, nested ones included.</summary>
    private static Dictionary<string, JsonObject> Steps(JsonObject definition)
    {
        var steps = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        void Walk(JsonArray? list)
        {
            foreach (var step in list?.OfType<JsonObject>() ?? [])
            {
                if ((string?)step["id"] is { } id)
                {
                    steps.TryAdd(id, step);
                }

                if (step["config"] is JsonObject config)
                {
                    Walk(config["then"] as JsonArray);
                    Walk(config["else"] as JsonArray);
                    Walk(config["steps"] as JsonArray);
                    foreach (var branch in (config["branches"] as JsonObject)?.Select(b => b.Value).OfType<JsonArray>() ?? [])
                    {
                        Walk(branch);
                    }
                }
            }
        }

        Walk(definition["steps"] as JsonArray);
        return steps;
    }
}
