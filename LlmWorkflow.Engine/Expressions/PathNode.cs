using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>A path in a condition; a missing value is null (so <c>exists</c> and comparisons never throw).</summary>
internal sealed class PathNode(ScopePath path) : ConditionNode
{
    public override JsonNode? Evaluate(ExpressionScope scope) => path.Evaluate(scope, throwIfMissing: false);
}
