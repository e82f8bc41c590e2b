using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>count</c>: the number of items of an array (only those matching <c>condition</c>, when given), properties of
/// an object or characters of a string: <c>{"condition": "item.rating >= 4"}</c>.
/// </summary>
internal sealed class CountTransform : TransformBase
{
    public override string Name => "count";

    public override string Description => "Count array items (optionally matching {\"condition\": \"item.open_now\"}), object properties or string characters";

    public override IReadOnlyCollection<string> ItemScopedOptions { get; } = ["condition"];

    protected override JsonNode? Apply(TransformCall call)
    {
        var condition = ConditionOption.Read(call, "condition");
        var input = call.Input();
        if (condition is not null)
        {
            var items = input as JsonArray ?? throw call.InputProblem("an array when 'condition' is given", input);
            return JsonValue.Create(items.Where((item, i) => condition.Evaluate(call.Scope.WithItem(item, i))).Count());
        }

        return input is not null && JsonValueSemantics.Length(input) is { } length
            ? JsonValue.Create(length)
            : throw call.InputProblem("an array, an object or a string", input);
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) => ConfigChecks.Condition(config, Name, "condition");
}
