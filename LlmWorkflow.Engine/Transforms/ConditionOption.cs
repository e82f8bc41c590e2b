using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>Reads a condition option (raw, since it is evaluated per item), turning syntax errors into config errors.</summary>
internal static class ConditionOption
{
    public static Condition? Read(TransformCall call, string name)
    {
        if (!call.Has(name))
        {
            return null;
        }

        if (!JsonValueSemantics.TryGetString(call.Raw(name), out var text))
        {
            throw call.ConfigProblem(name, "must be a condition string, e.g. \"item.rating >= 4\"");
        }

        try
        {
            return Condition.Parse(text);
        }
        catch (ExpressionSyntaxException syntax)
        {
            throw call.ConfigProblem(name, $"is not a valid condition: {syntax.Message}");
        }
    }
}
