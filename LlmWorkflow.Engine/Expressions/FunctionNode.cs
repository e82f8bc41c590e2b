using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>The built-in functions <c>exists(x)</c> (present and not null), <c>len(x)</c> / <c>length(x)</c> and <c>empty(x)</c>.</summary>
internal sealed class FunctionNode(string name, ConditionNode argument) : ConditionNode
{
    public static bool IsFunctionName(string name) => name is "exists" or "len" or "length" or "empty";

    public override JsonNode? Evaluate(ExpressionScope scope)
    {
        var value = argument.Evaluate(scope);
        return name switch
        {
            "exists" => Boolean(!JsonValueSemantics.IsNull(value)),
            "empty" => Boolean(JsonValueSemantics.IsEmpty(value)),
            _ => JsonValueSemantics.Length(value) is { } length ? JsonValue.Create(length) : null,
        };
    }
}
