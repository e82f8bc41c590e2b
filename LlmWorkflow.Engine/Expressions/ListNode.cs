using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>A list written in a condition, e.g. the right side of <c>x in ['a', 'b']</c>.</summary>
internal sealed class ListNode(IReadOnlyList<ConditionNode> elements) : ConditionNode
{
    /// <summary>The element nodes, so that <c>x in [...]</c> can test them without building an array.</summary>
    public IReadOnlyList<ConditionNode> Elements => elements;

    public override JsonNode? Evaluate(ExpressionScope scope)
    {
        var array = new JsonArray();
        foreach (var element in elements)
        {
            // Element values may belong to scope trees or be shared literals; the list needs its own copies.
            array.Add(element.Evaluate(scope)?.DeepClone());
        }

        return array;
    }
}
