using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// One run of a transform: reads options from the raw config (resolving <c>${...}</c> in value options) and builds
/// errors that name the operation and the field.
/// </summary>
internal sealed class TransformCall(string operation, JsonObject config, ExpressionScope scope)
{
    public ExpressionScope Scope => scope;

    public JsonObject Config => config;

    /// <summary>The resolved <c>input</c>; shared with the scope, so read-only.</summary>
    public JsonNode? Input() => config.TryGetPropertyValue("input", out var template)
        ? ValueResolver.Resolve(template, scope)
        : throw ConfigProblem("input", "is required");

    public JsonArray InputArray() => Input() switch
    {
        JsonArray array => array,
        var other => throw InputProblem("an array", other),
    };

    public string InputString() => Input() switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        var other => throw InputProblem("a string", other),
    };

    /// <summary>The unresolved option, for per-item templates and conditions.</summary>
    public JsonNode? Raw(string name) => config[name];

    public bool Has(string name) => config.ContainsKey(name);

    public JsonNode? Resolved(string name) => config.TryGetPropertyValue(name, out var template) ? ValueResolver.Resolve(template, scope) : null;

    public string? String(string name) => Resolved(name) switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        var other => throw ConfigProblem(name, $"must be a string, got {JsonValueSemantics.KindName(other)}"),
    };

    public string RequiredString(string name) => String(name) ?? throw ConfigProblem(name, "is required");

    public bool Bool(string name, bool defaultValue) => Resolved(name) switch
    {
        null => defaultValue,
        JsonValue value when value.TryGetValue<bool>(out var flag) => flag,
        var other => throw ConfigProblem(name, $"must be true or false, got {JsonValueSemantics.KindName(other)}"),
    };

    public int? Int(string name, int minimum)
    {
        var value = Resolved(name);
        if (value is null)
        {
            return null;
        }

        if (!JsonValueSemantics.TryGetNumber(value, out var number) || number != Math.Floor(number) || number < minimum || number > int.MaxValue)
        {
            throw ConfigProblem(name, $"must be a whole number >= {minimum}, got {ValueText.Render(value)}");
        }

        return (int)number;
    }

    public string OneOf(string name, string defaultValue, params string[] allowed)
    {
        var value = String(name) ?? defaultValue;
        return allowed.Contains(value, StringComparer.Ordinal)
            ? value
            : throw ConfigProblem(name, $"must be one of {string.Join(", ", allowed)}, got '{value}'");
    }

    public FieldPath? Path(string name)
    {
        var text = String(name);
        try
        {
            return text is null ? null : FieldPath.Parse(text);
        }
        catch (ExpressionSyntaxException syntax)
        {
            throw ConfigProblem(name, syntax.Message);
        }
    }

    /// <summary>A CONFIG_ERROR <c>invalid_transform_config</c>: the definition is wrong.</summary>
    public WorkflowException ConfigProblem(string field, string message) =>
        WorkflowException.Config("invalid_transform_config", $"{operation}: '{field}' {message}");

    /// <summary>A USER_ERROR <c>invalid_input</c>: the data given to the transform has the wrong shape.</summary>
    public WorkflowException InputProblem(string expected, JsonNode? actual) =>
        WorkflowException.User("invalid_input", $"{operation}: 'input' must be {expected}, got {JsonValueSemantics.KindName(actual)}");
}
