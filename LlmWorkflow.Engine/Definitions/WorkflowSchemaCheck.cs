using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Checks a workflow document against <c>workflows/workflow.schema.json</c> (embedded in this assembly) with
/// JsonSchema.Net's hierarchical output, so a definition the loader refuses is reported with every structural problem an
/// editor's or ajv's validation of the same schema finds, not only the ones the serializer stumbles on first.
/// </summary>
public static class WorkflowSchemaCheck
{
    public const string SchemaViolationCode = "schema_violation";

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.Hierarchical };

    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        using var stream = typeof(WorkflowSchemaCheck).Assembly.GetManifestResourceStream("workflow.schema.json")
            ?? throw new InvalidOperationException("workflow.schema.json is not embedded in LlmWorkflow.Engine.");
        using var document = JsonDocument.Parse(stream);
        return JsonSchema.Build(document.RootElement.Clone(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    });

    /// <summary>Every violation of the schema, one problem per place and message, in document order.</summary>
    public static List<ValidationProblem> Problems(JsonNode? document, string source)
    {
        using var instance = JsonDocument.Parse(document?.ToJsonString() ?? "null");
        var results = Schema.Value.Evaluate(instance.RootElement, Evaluation);
        var problems = new List<ValidationProblem>();
        if (results.IsValid)
        {
            return problems;
        }

        Collect(results, source, problems);
        return problems;
    }

    /// <summary>
    /// The errors of a failed node and of its failed subschemas, depth first. A node that passed ends the walk: the
    /// failures under it were tolerated (an "if" that picks another step type's config, a oneOf's other alternatives),
    /// so only failures every ancestor shares are problems, as ajv reports them.
    /// </summary>
    private static void Collect(EvaluationResults node, string source, List<ValidationProblem> problems)
    {
        if (node.IsValid)
        {
            return;
        }

        foreach (var (keyword, message) in node.Errors ?? new Dictionary<string, string>())
        {
            var problem = new ValidationProblem(source, ToJsonPath(node.InstanceLocation.ToString()), SchemaViolationCode,
                $"{message} ({keyword}).", "Compare the property with workflows/workflow.schema.json.");
            if (!problems.Contains(problem))
            {
                problems.Add(problem);
            }
        }

        foreach (var child in node.Details ?? [])
        {
            if (!Tolerated(node, child))
            {
                Collect(child, source, problems);
            }
        }
    }

    /// <summary>
    /// A failed subschema its parent did not fail for: an <c>if</c> (it picks which <c>then</c> applies), or an
    /// alternative of a <c>oneOf</c> / <c>anyOf</c> another alternative of which passed.
    /// </summary>
    private static bool Tolerated(EvaluationResults parent, EvaluationResults child)
    {
        var segments = child.EvaluationPath.ToString().Split('/');
        if (segments[^1] == "if")
        {
            return true;
        }

        if (segments.Length < 2 || segments[^2] is not ("oneOf" or "anyOf"))
        {
            return false;
        }

        // The keyword held when one of its alternatives passed (a oneOf that two passed fails on its own, no child to show).
        var keyword = string.Join('/', segments[..^1]) + "/";
        return parent.Details?.Any(sibling => sibling.IsValid && sibling.EvaluationPath.ToString().StartsWith(keyword, StringComparison.Ordinal)) == true;
    }

    /// <summary>
    /// The loader's own problems, then each schema violation at a place none of them names nor lies under (the loader's
    /// message says more about the engine; the schema's finds what the serializer never reached).
    /// </summary>
    public static List<ValidationProblem> Merge(List<ValidationProblem> loaderProblems, IEnumerable<ValidationProblem> schemaProblems)
    {
        // Below a place the loader named (a step without its type, say), the schema's findings follow from it: a step
        // without a type matches every type's config rule.
        var named = loaderProblems.Select(p => p.JsonPath).ToList();
        return [.. loaderProblems, .. schemaProblems.Where(p => !named.Any(n => p.JsonPath == n || (n != "$" && p.JsonPath.StartsWith(n + ".", StringComparison.Ordinal))))];
    }

    /// <summary>A JSON Pointer (<c>/steps/0/config</c>) as the JSON path the other problems use (<c>$.steps[0].config</c>).</summary>
    internal static string ToJsonPath(string pointer)
    {
        var path = new System.Text.StringBuilder("$");
        foreach (var segment in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            path.Append(int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) ? $"[{name}]" : $".{name}");
        }

        return path.ToString();
    }
}
