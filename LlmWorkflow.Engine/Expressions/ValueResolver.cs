using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Expressions;

/// <summary>
/// Resolves <c>${...}</c> references in config values against an <see cref="ExpressionScope"/>.
/// <list type="bullet">
/// <item><c>"${input.n}"</c> (the whole string) keeps the value's JSON type: a number stays a number.</item>
/// <item><c>"Hello ${input.name}!"</c> renders as text: strings raw, numbers invariant, objects/arrays as compact JSON, null as empty.</item>
/// <item>Paths: <c>input.a.b</c>, <c>steps.&lt;id&gt;.output.x[0]</c>, <c>context.var</c>, <c>item.x</c>, <c>index</c>,
/// <c>list[-1]</c>, <c>['key with spaces']</c>, <c>results[*].name</c> (projection into an array).</item>
/// <item>A missing value is a USER_ERROR <c>missing_value</c> naming the path and the first missing segment;
/// <c>${input.nickname?}</c> yields null instead. <c>$${</c> writes a literal <c>${</c>.</item>
/// </list>
/// Malformed expressions are CONFIG_ERROR <c>expression_syntax</c> at run time; the validator finds them first
/// through <see cref="FindReferences"/>.
/// </summary>
public static class ValueResolver
{
    /// <summary>
    /// Resolves every string in <paramref name="template"/> (objects and arrays deeply; keys are not resolved).
    /// The result is a new tree, except that a top-level whole-string reference returns the referenced value
    /// itself, shared with the scope: treat it as read-only.
    /// </summary>
    public static JsonNode? Resolve(JsonNode? template, ExpressionScope scope) => Resolve(template, scope, throwIfMissing: true);

    /// <summary>Like <see cref="Resolve(JsonNode?, ExpressionScope)"/>, but every missing value is null (as if marked <c>?</c>).</summary>
    internal static JsonNode? ResolveOptional(JsonNode? template, ExpressionScope scope) => Resolve(template, scope, throwIfMissing: false);

    /// <summary>Resolves one string as text (a whole-string reference to an object renders as JSON).</summary>
    public static string ResolveText(string template, ExpressionScope scope) =>
        TextTemplate.MayContainExpression(template) ? Parse(template).Render(scope) : template;

    /// <summary>
    /// Every <c>${...}</c> reference in a config tree with where it was found, for static validation.
    /// Throws <see cref="ExpressionSyntaxException"/> (with <see cref="ExpressionSyntaxException.JsonPath"/>) for a malformed one.
    /// </summary>
    public static IReadOnlyList<ExpressionReference> FindReferences(JsonNode? template, string jsonPath = "$")
    {
        var references = new List<ExpressionReference>();
        Collect(template, jsonPath, references);
        return references;
    }

    private static JsonNode? Resolve(JsonNode? template, ExpressionScope scope, bool throwIfMissing) => template switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => TextTemplate.MayContainExpression(text)
            ? Parse(text).Evaluate(scope, throwIfMissing)
            : JsonValue.Create(text),
        _ => ResolveOwned(template, scope, throwIfMissing),
    };

    /// <summary>Resolves into a node the caller owns, so it can be attached to a new parent.</summary>
    private static JsonNode? ResolveOwned(JsonNode? template, ExpressionScope scope, bool throwIfMissing)
    {
        switch (template)
        {
            case null:
                return null;
            case JsonObject obj:
                var resolvedObject = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    resolvedObject[key] = ResolveOwned(value, scope, throwIfMissing);
                }

                return resolvedObject;
            case JsonArray array:
                var resolvedArray = new JsonArray();
                foreach (var element in array)
                {
                    resolvedArray.Add(ResolveOwned(element, scope, throwIfMissing));
                }

                return resolvedArray;
            case JsonValue value when value.TryGetValue<string>(out var text):
                if (!TextTemplate.MayContainExpression(text))
                {
                    return JsonValue.Create(text);
                }

                var parsed = Parse(text);
                var resolved = parsed.Evaluate(scope, throwIfMissing);

                // A whole-string reference returns a node of the scope's trees: copy it instead of adopting it.
                return parsed.IsSingleReference ? resolved?.DeepClone() : resolved;
            default:
                return template.DeepClone();
        }
    }

    private static TextTemplate Parse(string text)
    {
        try
        {
            return TextTemplate.Parse(text);
        }
        catch (ExpressionSyntaxException syntax)
        {
            throw WorkflowException.Config("expression_syntax", syntax.Message, "Run the workflow validator to see every malformed expression");
        }
    }

    private static void Collect(JsonNode? node, string jsonPath, List<ExpressionReference> references)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    Collect(value, PathScanner.IsPlainName(key) ? $"{jsonPath}.{key}" : $"{jsonPath}['{key}']", references);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    Collect(array[i], $"{jsonPath}[{i}]", references);
                }

                break;
            case JsonValue value when value.TryGetValue<string>(out var text) && TextTemplate.MayContainExpression(text):
                try
                {
                    references.AddRange(TextTemplate.Parse(text).References(jsonPath));
                }
                catch (ExpressionSyntaxException syntax)
                {
                    throw syntax.WithJsonPath(jsonPath);
                }

                break;
        }
    }
}
