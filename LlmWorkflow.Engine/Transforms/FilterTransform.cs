using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>filter</c>: keeps the array items for which <c>condition</c> (see <see cref="Condition"/>) is true, evaluated
/// with <c>item</c> and <c>index</c>: <c>{"condition": "item.rating >= 4 and item.types contains 'hospital'"}</c>.
/// </summary>
internal sealed class FilterTransform : TransformBase
{
    public override string Name => "filter";

    public override string Description => "Keep array items matching a condition: {\"condition\": \"item.rating >= 4\"}";

    public override IReadOnlyCollection<string> ItemScopedOptions { get; } = ["condition"];

    protected override JsonNode? Apply(TransformCall call)
    {
        var condition = ConditionOption.Read(call, "condition") ?? throw call.ConfigProblem("condition", "is required");
        var items = call.InputArray();
        var kept = new JsonArray();
        for (var i = 0; i < items.Count; i++)
        {
            if (condition.Evaluate(call.Scope.WithItem(items[i], i)))
            {
                kept.Add(items[i]?.DeepClone());
            }
        }

        return kept;
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) =>
        ConfigChecks.Required(config, Name, "condition", "Example: \"condition\": \"item.rating >= 4\"")
            .Concat(ConfigChecks.Condition(config, Name, "condition"));
}
