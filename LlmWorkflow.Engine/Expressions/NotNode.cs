namespace LlmWorkflow.Engine.Expressions;

/// <summary><c>not x</c> / <c>!x</c>.</summary>
internal sealed class NotNode(ConditionNode operand) : BooleanConditionNode
{
    public override bool IsTrue(ExpressionScope scope) => !operand.IsTrue(scope);
}
