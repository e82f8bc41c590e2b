using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>merge</c>: merges the values listed in <c>inputs</c> (or the items of an array <c>input</c>), skipping nulls.
/// Objects merge with later keys winning — nested objects too with <c>deep: true</c>; arrays concatenate:
/// <c>{"inputs": ["${steps.police.output}", "${steps.hospitals.output}"], "deep": true}</c>.
/// </summary>
internal sealed class MergeTransform : TransformBase
{
    public override string Name => "merge";

    public override string Description =>
        "Merge objects (later wins, deep: true for nested) or concatenate arrays: {\"inputs\": [\"${steps.a.output}\", \"${steps.b.output}\"]}";

    protected override bool RequiresInput => false;

    protected override JsonNode? Apply(TransformCall call)
    {
        var sources = call.Has("inputs")
            ? call.Resolved("inputs") as JsonArray ?? throw call.ConfigProblem("inputs", "must be an array of values to merge")
            : call.Has("input") ? call.InputArray() : throw call.ConfigProblem("inputs", "is required (or an array 'input')");
        var deep = call.Bool("deep", false);
        var values = sources.Where(value => !JsonValueSemantics.IsNull(value)).ToList();
        if (values.Count == 0)
        {
            return null;
        }

        if (values.All(value => value is JsonArray))
        {
            return new JsonArray([.. values.SelectMany(value => value!.AsArray()).Select(element => element?.DeepClone())]);
        }

        if (!values.All(value => value is JsonObject))
        {
            var kinds = string.Join(", ", values.Select(JsonValueSemantics.KindName).Distinct());
            throw Execution.WorkflowException.User("invalid_input", $"{Name}: values to merge must be all objects or all arrays, got {kinds}");
        }

        var merged = new JsonObject();
        foreach (var value in values)
        {
            MergeInto(merged, value!.AsObject(), deep);
        }

        return merged;
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        var problems = ConfigChecks.Bool(config, Name, "deep");
        if (config.ContainsKey("inputs") == config.ContainsKey("input"))
        {
            problems = problems.Append(new TransformProblem("$.inputs", $"{Name}: give exactly one of 'inputs' (a list of values) or 'input' (an array)", "Example: \"inputs\": [\"${steps.a.output}\", \"${steps.b.output}\"]"));
        }
        else if (config["inputs"] is { } inputs and not JsonArray && !ConfigChecks.IsDeferred(inputs))
        {
            problems = problems.Append(new TransformProblem("$.inputs", $"{Name}: 'inputs' must be an array of values to merge"));
        }

        return problems;
    }

    private static void MergeInto(JsonObject target, JsonObject source, bool deep)
    {
        foreach (var (key, value) in source)
        {
            if (deep && value is JsonObject nested && target[key] is JsonObject existing)
            {
                MergeInto(existing, nested, deep);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }
}
