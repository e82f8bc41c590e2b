namespace LlmWorkflow.Engine.Expressions;

/// <summary><c>a contains b</c> and <c>b in a</c>: substring, array element or object key.</summary>
internal sealed class ContainsNode(ConditionNode container, ConditionNode value) : BooleanConditionNode
{
    public override bool IsTrue(ExpressionScope scope)
    {
        var wanted = value.Evaluate(scope);
        return container is ListNode list
            ? list.Elements.Any(element => JsonValueSemantics.AreEqual(element.Evaluate(scope), wanted))
            : JsonValueSemantics.Contains(container.Evaluate(scope), wanted);
    }
}
