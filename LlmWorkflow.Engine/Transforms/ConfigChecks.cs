using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// Static checks of transform options for <see cref="ITransform.Validate"/>. A value containing <c>${...}</c> is
/// only known at run time, so its type is not checked here.
/// </summary>
internal static class ConfigChecks
{
    public static IEnumerable<TransformProblem> Required(JsonObject config, string operation, string name, string hint)
    {
        if (!config.ContainsKey(name))
        {
            yield return new TransformProblem($"$.{name}", $"{operation}: '{name}' is required", hint);
        }
    }

    public static IEnumerable<TransformProblem> String(JsonObject config, string operation, string name)
    {
        if (config[name] is { } value && !JsonValueSemantics.TryGetString(value, out _))
        {
            yield return new TransformProblem($"$.{name}", $"{operation}: '{name}' must be a string, got {JsonValueSemantics.KindName(value)}");
        }
    }

    public static IEnumerable<TransformProblem> Bool(JsonObject config, string operation, string name)
    {
        if (config[name] is { } value && !IsDeferred(value) && JsonValueSemantics.KindName(value) != "boolean")
        {
            yield return new TransformProblem($"$.{name}", $"{operation}: '{name}' must be true or false, got {JsonValueSemantics.KindName(value)}");
        }
    }

    public static IEnumerable<TransformProblem> Int(JsonObject config, string operation, string name, int minimum)
    {
        if (config[name] is { } value && !IsDeferred(value)
            && (!JsonValueSemantics.TryGetNumber(value, out var number) || number != Math.Floor(number) || number < minimum))
        {
            yield return new TransformProblem($"$.{name}", $"{operation}: '{name}' must be a whole number >= {minimum}, got {value.ToJsonString()}");
        }
    }

    public static IEnumerable<TransformProblem> OneOf(JsonObject config, string operation, string name, params string[] allowed)
    {
        if (JsonValueSemantics.TryGetString(config[name], out var value) && !IsDeferred(config[name]) && !allowed.Contains(value, StringComparer.Ordinal))
        {
            yield return new TransformProblem($"$.{name}", $"{operation}: '{name}' must be one of {string.Join(", ", allowed)}, got '{value}'");
        }
    }

    public static IEnumerable<TransformProblem> Path(JsonObject config, string operation, string name) =>
        JsonValueSemantics.TryGetString(config[name], out var text) && !IsDeferred(config[name])
            ? FieldPathProblem($"$.{name}", operation, name, text)
            : [];

    /// <param name="query">Whether a full JSONPath query is accepted (<see cref="FieldPath.ParseQuery"/>).</param>
    public static IEnumerable<TransformProblem> FieldPathProblem(string jsonPath, string operation, string name, string text, bool query = false)
    {
        try
        {
            _ = query ? FieldPath.ParseQuery(text) : FieldPath.Parse(text);
            return [];
        }
        catch (ExpressionSyntaxException syntax)
        {
            return [new TransformProblem(jsonPath, $"{operation}: '{name}' is not a valid path: {syntax.Message}")];
        }
    }

    public static IEnumerable<TransformProblem> Condition(JsonObject config, string operation, string name)
    {
        if (!JsonValueSemantics.TryGetString(config[name], out var text))
        {
            return String(config, operation, name);
        }

        try
        {
            Expressions.Condition.Parse(text);
            return [];
        }
        catch (ExpressionSyntaxException syntax)
        {
            return [new TransformProblem($"$.{name}", $"{operation}: '{name}' is not a valid condition: {syntax.Message}", "Example: item.rating >= 4 and item.name contains 'Hospital'")];
        }
    }

    /// <summary>True for a string holding an expression, whose value is only known at run time.</summary>
    public static bool IsDeferred(JsonNode? value) =>
        JsonValueSemantics.TryGetString(value, out var text) && TextTemplate.MayContainExpression(text);
}
