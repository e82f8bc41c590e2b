using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>Reads a text template option (raw, since it is rendered per item), turning syntax errors into config errors.</summary>
internal static class TemplateOption
{
    public static BraceTemplate? Read(TransformCall call, string name)
    {
        if (!call.Has(name))
        {
            return null;
        }

        if (!JsonValueSemantics.TryGetString(call.Raw(name), out var text))
        {
            throw call.ConfigProblem(name, "must be a template string, e.g. \"{{name}}: {{phone}}\"");
        }

        try
        {
            return BraceTemplate.Parse(text);
        }
        catch (ExpressionSyntaxException syntax)
        {
            throw call.ConfigProblem(name, syntax.Message);
        }
    }

    public static IEnumerable<TransformProblem> Validate(System.Text.Json.Nodes.JsonObject config, string operation, string name)
    {
        if (config[name] is null)
        {
            return [];
        }

        if (!JsonValueSemantics.TryGetString(config[name], out var text))
        {
            return [new TransformProblem($"$.{name}", $"{operation}: '{name}' must be a template string", "Example: \"{{name}}: {{phone}}\"")];
        }

        try
        {
            BraceTemplate.Parse(text);
            return [];
        }
        catch (ExpressionSyntaxException syntax)
        {
            return [new TransformProblem($"$.{name}", $"{operation}: '{name}': {syntax.Message}")];
        }
    }
}
