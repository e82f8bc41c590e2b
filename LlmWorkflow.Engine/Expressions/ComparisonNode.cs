namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// <c>== != &lt; &lt;= &gt; &gt;=</c>. Equality follows <see cref="JsonValueSemantics.AreEqual"/>; an ordering
/// between values that cannot be ordered (null, objects, a string and a non-numeric string) is false.
/// </summary>
internal sealed class ComparisonNode(ConditionNode left, ConditionNode right, string op) : BooleanConditionNode
{
    public override bool IsTrue(ExpressionScope scope)
    {
        var a = left.Evaluate(scope);
        var b = right.Evaluate(scope);
        return op switch
        {
            "==" => JsonValueSemantics.AreEqual(a, b),
            "!=" => !JsonValueSemantics.AreEqual(a, b),
            _ => JsonValueSemantics.TryCompare(a, b, out var order) && op switch
            {
                "<" => order < 0,
                "<=" => order <= 0,
                ">" => order > 0,
                _ => order >= 0,
            },
        };
    }
}
