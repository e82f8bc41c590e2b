using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.StructuredOutput;

/// <summary>
/// A step's <c>json_schema</c>, built once by JsonSchema.Net and used to validate every answer in full (types, nested
/// objects, arrays, enums, <c>$ref</c> into the schema's own <c>$defs</c>). Only local references (<c>#...</c>) are
/// allowed: a schema that fetched another document at run time would make a step's outcome depend on a third party's
/// server, so remote references are refused when the workflow is validated and again here. Shared by the <c>llm</c>
/// step and (later) the <c>agent</c> step.
/// </summary>
public sealed class StructuredOutputSchema
{
    /// <summary>The most violations reported (to the model in a repair turn and in the error); the rest are counted.</summary>
    public const int MaxReported = 20;

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };

    private readonly JsonSchema _schema;

    private StructuredOutputSchema(JsonSchema schema, JsonElement source)
    {
        _schema = schema;
        Source = source;
    }

    /// <summary>The schema as written, for providers that enforce it themselves.</summary>
    public JsonElement Source { get; }

    /// <summary>
    /// Builds <paramref name="schema"/>; throws a CONFIG_ERROR <c>invalid_json_schema</c> naming <paramref name="fieldPath"/>
    /// (e.g. <c>steps[0].config.json_schema</c>) when it is not a schema this service can use.
    /// </summary>
    public static StructuredOutputSchema Build(JsonObject schema, string fieldPath)
    {
        var (problems, built, source) = Inspect(schema, fieldPath);
        return problems.Count > 0 || built is null
            ? throw WorkflowException.Config("invalid_json_schema", $"{problems[0].Path}: {problems[0].Message}", "Keep $ref local (\"#/$defs/name\") and the schema valid JSON Schema.")
            : new StructuredOutputSchema(built, source);
    }

    /// <summary>
    /// What makes <paramref name="schema"/> unusable, each with the JSON path of the offending field: a remote or relative
    /// <c>$ref</c>/<c>$dynamicRef</c>, a local pointer that lands on nothing, or a schema JsonSchema.Net refuses to build.
    /// Empty when it is fine.
    /// </summary>
    public static IReadOnlyList<(string Path, string Message)> Problems(JsonObject schema, string fieldPath) => Inspect(schema, fieldPath).Problems;

    /// <summary>Checks the references, then builds the schema once (a step pays one build, about half a millisecond).</summary>
    private static (List<(string Path, string Message)> Problems, JsonSchema? Built, JsonElement Source) Inspect(JsonObject schema, string fieldPath)
    {
        var problems = new List<(string, string)>();
        FindRemoteReferences(schema, schema, fieldPath, problems);
        var source = JsonSerializer.SerializeToElement(schema, StructuredOutputJsonContext.Default.JsonObject);
        if (problems.Count > 0)
        {
            return (problems, null, source);
        }

        try
        {
            return (problems, BuildSchema(source), source);
        }
        catch (Exception ex) when (ex is JsonSchemaException or RefResolutionException or JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            problems.Add((fieldPath, $"not a usable JSON Schema: {ex.Message}"));
            return (problems, null, source);
        }
    }

    /// <summary>The answer's violations of the schema, at most <see cref="MaxReported"/>; empty when it conforms.</summary>
    public IReadOnlyList<SchemaViolation> Validate(JsonElement answer)
    {
        var results = _schema.Evaluate(answer, Evaluation);
        if (results.IsValid)
        {
            return [];
        }

        var violations = new List<SchemaViolation>();
        foreach (var node in (IEnumerable<EvaluationResults>)[results, .. results.Details ?? []])
        {
            if (node.IsValid || node.Errors is null)
            {
                continue;
            }

            foreach (var error in node.Errors)
            {
                var violation = new SchemaViolation(node.InstanceLocation.ToString(), $"{error.Value} ({error.Key})");
                if (!violations.Contains(violation))
                {
                    violations.Add(violation);
                }
            }
        }

        // A failed evaluation always names at least one keyword; this keeps "invalid" from ever reading as "no errors".
        return violations.Count > 0 ? violations : [new SchemaViolation("", "The answer does not match the schema.")];
    }

    /// <summary>A fresh schema registry per build: schemas with the same <c>$id</c> in two workflows never collide.</summary>
    private static JsonSchema BuildSchema(JsonElement source) =>
        JsonSchema.Build(source, new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    private static void FindRemoteReferences(JsonObject root, JsonNode? node, string path, List<(string, string)> problems)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    var childPath = $"{path}.{key}";
                    if (key is "$ref" or "$dynamicRef" or "$recursiveRef" && value?.GetValueKind() == JsonValueKind.String
                        && !value.GetValue<string>().StartsWith('#'))
                    {
                        problems.Add((childPath, $"only local references are allowed (\"#/$defs/name\"), not \"{value.GetValue<string>()}\"."));
                    }
                    else if (key == "$ref" && value?.GetValueKind() == JsonValueKind.String && !Resolves(root, value.GetValue<string>()))
                    {
                        problems.Add((childPath, $"\"{value.GetValue<string>()}\" points at nothing in this schema."));
                    }
                    else
                    {
                        FindRemoteReferences(root, value, childPath, problems);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    FindRemoteReferences(root, array[i], $"{path}[{i}]", problems);
                }

                break;
        }
    }

    /// <summary>Whether a local JSON-pointer reference (<c>#/$defs/a</c>) lands on something; anchors (<c>#name</c>) are left to the library.</summary>
    private static bool Resolves(JsonObject root, string reference)
    {
        if (reference is "#" || !reference.StartsWith("#/", StringComparison.Ordinal))
        {
            return true;
        }

        JsonNode? node = root;
        foreach (var raw in reference[2..].Split('/'))
        {
            var segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            node = node switch
            {
                JsonObject obj when obj.TryGetPropertyValue(segment, out var child) => child,
                JsonArray array when int.TryParse(segment, out var index) && index >= 0 && index < array.Count => array[index],
                _ => null,
            };
            if (node is null)
            {
                return false;
            }
        }

        return true;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class StructuredOutputJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
