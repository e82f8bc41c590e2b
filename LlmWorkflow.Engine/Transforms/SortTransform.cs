using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>sort</c>: a stable sort of an array by the value at <c>by</c> (default the item itself), <c>direction</c>
/// <c>asc</c> (default) or <c>desc</c>. <c>compare_as</c>: <c>auto</c> (numbers, then strings, then booleans, then
/// objects/arrays), <c>number</c> (numeric strings count as numbers) or <c>string</c> (everything as text);
/// <c>ignore_case</c> for strings. Null and missing keys always come last:
/// <c>{"by": "rating", "direction": "desc"}</c>.
/// </summary>
internal sealed class SortTransform : TransformBase
{
    private static readonly string[] CompareModes = ["auto", "number", "string"];

    public override string Name => "sort";

    public override string Description => "Stable sort, nulls last: {\"by\": \"rating\", \"direction\": \"desc\", \"compare_as\": \"auto|number|string\"}";

    protected override JsonNode? Apply(TransformCall call)
    {
        var by = call.Path("by") ?? FieldPath.Self;
        var descending = call.OneOf("direction", "asc", "asc", "desc") == "desc";
        var mode = call.OneOf("compare_as", "auto", CompareModes);
        var stringComparer = call.Bool("ignore_case", false) ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var items = call.InputArray();

        var keys = items.Select(item => SortKey.Of(by.Select(item), mode)).ToArray();
        var order = Enumerable.Range(0, items.Count).Order(Comparer<int>.Create((a, b) =>
        {
            var (left, right) = (keys[a], keys[b]);
            if (left.Rank != right.Rank || left.Rank == SortKey.NullRank)
            {
                // Kinds keep their order in both directions so that nulls stay last.
                return left.Rank.CompareTo(right.Rank);
            }

            var compared = left.Text is null
                ? left.Number.CompareTo(right.Number)
                : stringComparer.Compare(left.Text, right.Text);
            return descending ? -compared : compared;
        }));

        return new JsonArray([.. order.Select(i => items[i]?.DeepClone())]);
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) =>
        ConfigChecks.Path(config, Name, "by")
            .Concat(ConfigChecks.OneOf(config, Name, "direction", "asc", "desc"))
            .Concat(ConfigChecks.OneOf(config, Name, "compare_as", CompareModes))
            .Concat(ConfigChecks.Bool(config, Name, "ignore_case"));

    /// <summary>A precomputed key: kind rank, then a number or a text to compare within the kind.</summary>
    private readonly record struct SortKey(int Rank, double Number, string? Text)
    {
        public const int NullRank = 4;

        public static SortKey Of(JsonNode? value, string mode)
        {
            if (JsonValueSemantics.IsNull(value))
            {
                return new SortKey(NullRank, 0, null);
            }

            switch (mode)
            {
                case "number":
                    return JsonValueSemantics.TryGetNumber(value, out var number)
                        || (JsonValueSemantics.TryGetString(value, out var text)
                            && double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out number))
                        ? new SortKey(0, number, null)
                        : new SortKey(NullRank, 0, null);
                case "string":
                    return new SortKey(1, 0, ValueText.Render(value));
            }

            return JsonValueSemantics.KindName(value) switch
            {
                "number" => new SortKey(0, JsonValueSemantics.TryGetNumber(value, out var n) ? n : 0, null),
                "string" => new SortKey(1, 0, value!.GetValue<string>()),
                "boolean" => new SortKey(2, value!.GetValue<bool>() ? 1 : 0, null),
                _ => new SortKey(3, 0, value!.ToJsonString()),
            };
        }
    }
}
