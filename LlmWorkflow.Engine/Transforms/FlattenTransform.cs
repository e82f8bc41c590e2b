using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>flatten</c>: splices nested arrays into their parent, <c>depth</c> levels deep (default 1):
/// <c>[[1, 2], [3, [4]]]</c> → <c>[1, 2, 3, [4]]</c>. Non-array items stay as they are.
/// </summary>
internal sealed class FlattenTransform : TransformBase
{
    public override string Name => "flatten";

    public override string Description => "Flatten nested arrays: [[1,2],[3,[4]]] → [1,2,3,[4]] ({\"depth\": 1} default)";

    protected override JsonNode? Apply(TransformCall call)
    {
        var depth = call.Int("depth", 1) ?? 1;
        var result = new JsonArray();
        Flatten(call.InputArray(), depth, result);
        return result;
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) => ConfigChecks.Int(config, Name, "depth", 1);

    private static void Flatten(JsonArray source, int depth, JsonArray target)
    {
        foreach (var item in source)
        {
            if (item is JsonArray nested && depth > 0)
            {
                Flatten(nested, depth - 1, target);
            }
            else
            {
                target.Add(item?.DeepClone());
            }
        }
    }
}
