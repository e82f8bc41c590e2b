using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>A node of a parsed <see cref="Condition"/>. Nodes are immutable and shared across evaluations.</summary>
internal abstract class ConditionNode
{
    private static readonly JsonValue TrueValue = JsonValue.Create(true);
    private static readonly JsonValue FalseValue = JsonValue.Create(false);

    /// <summary>The node's value; never attached to a tree, only compared.</summary>
    public abstract JsonNode? Evaluate(ExpressionScope scope);

    public virtual bool IsTrue(ExpressionScope scope) => JsonValueSemantics.IsTruthy(Evaluate(scope));

    protected static JsonValue Boolean(bool value) => value ? TrueValue : FalseValue;
}

/// <summary>A node whose value is a boolean; evaluates <see cref="ConditionNode.IsTrue"/> without boxing a value.</summary>
internal abstract class BooleanConditionNode : ConditionNode
{
    public sealed override JsonNode? Evaluate(ExpressionScope scope) => Boolean(IsTrue(scope));

    public abstract override bool IsTrue(ExpressionScope scope);
}
