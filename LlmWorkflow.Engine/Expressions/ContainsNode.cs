namespace LlmWorkflow.Engine.Expressions;

/// <summary><c>a contains b</c> and <c>b in a</c>: substring, array element or object key.</summary>
internal sealed class ContainsNode(ConditionNode container, ConditionNode value) : BooleanConditionNode
{
    public override bool IsTrue(ExpressionScope scope) =>
        JsonValueSemantics.Contains(container.Evaluate(scope), value.Evaluate(scope));
}
