using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>unique</c>: drops array items whose key (the value at <c>by</c>, default the whole item) was seen before,
/// keeping the first. Numbers are equal by value (1 and 1.0), strings ordinally (or with <c>ignore_case</c>):
/// <c>{"by": "place_id"}</c>.
/// </summary>
internal sealed class UniqueTransform : TransformBase
{
    public override string Name => "unique";

    public override string Description => "Drop repeated items, keeping the first: {\"by\": \"place_id\"} (default: the whole item)";

    protected override JsonNode? Apply(TransformCall call)
    {
        var by = call.Path("by") ?? FieldPath.Self;
        var ignoreCase = call.Bool("ignore_case", false);
        var seen = new HashSet<string>(ignoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        var result = new JsonArray();
        foreach (var item in call.InputArray())
        {
            if (seen.Add(KeyText(by.Select(item))))
            {
                result.Add(item?.DeepClone());
            }
        }

        return result;
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) =>
        ConfigChecks.Path(config, Name, "by").Concat(ConfigChecks.Bool(config, Name, "ignore_case"));

    /// <summary>A text that is equal for equal keys; the kind prefix keeps "1" and 1 apart.</summary>
    private static string KeyText(JsonNode? key)
    {
        if (JsonValueSemantics.IsNull(key))
        {
            return "null";
        }

        if (JsonValueSemantics.TryGetNumber(key, out var number))
        {
            return "n:" + number.ToString("R", CultureInfo.InvariantCulture);
        }

        return JsonValueSemantics.TryGetString(key, out var text) ? "s:" + text : "j:" + key!.ToJsonString();
    }
}
