namespace LlmWorkflow.Engine.Expressions;

/// <summary><c>a and b</c> / <c>a or b</c>, short-circuiting.</summary>
internal sealed class LogicalNode(ConditionNode left, ConditionNode right, bool isAnd) : BooleanConditionNode
{
    public override bool IsTrue(ExpressionScope scope) =>
        isAnd ? left.IsTrue(scope) && right.IsTrue(scope) : left.IsTrue(scope) || right.IsTrue(scope);
}
