using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>A number, string, true, false or null written in a condition.</summary>
internal sealed class LiteralNode(JsonNode? value) : ConditionNode
{
    public override JsonNode? Evaluate(ExpressionScope scope) => value;
}
