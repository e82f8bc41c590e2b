using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// One entry of an agent step's <c>tools</c>: <c>http</c> (a call to a URL template), <c>transform</c> (a transform
/// operation run on the arguments), <c>external_api</c> (a registered external service) or <c>mcp</c> (every tool of an
/// MCP server, listed at run time). In a tool's templates and config, <c>${item.x}</c> is the model's argument
/// <c>x</c>; <c>${input…}</c>, <c>${steps…}</c> and <c>${context…}</c> are the workflow's as in any step.
/// </summary>
public sealed partial record AgentToolDefinition
{
    public const string Http = "http";
    public const string Transform = "transform";
    public const string ExternalApi = "external_api";
    public const string Mcp = "mcp";
    public const string Workflow = "workflow";

    public static IReadOnlyList<string> Types { get; } = [Http, Transform, ExternalApi, Mcp, Workflow];

    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    public required string Type { get; init; }

    /// <summary>The function name the model sees (for <c>mcp</c>: the source's name; its tools keep their own names).</summary>
    public required string Name { get; init; }

    public string? Description { get; init; }

    /// <summary>JSON schema of the arguments (an object schema); <c>{"type":"object"}</c> when absent.</summary>
    public required JsonObject Parameters { get; init; }

    /// <summary>The call waits for a person's decision (approve, reject, edit the arguments) before it runs.</summary>
    public bool RequiresApproval { get; init; }

    /// <summary>The tool's whole definition, for the type-specific fields (url, method, headers, config, service…).</summary>
    public required JsonObject Spec { get; init; }

    public string Method => ((string?)Spec["method"] ?? "GET").ToUpperInvariant();

    public string? Url => (string?)Spec["url"];

    internal static AgentToolDefinition? Parse(JsonNode? node, string path, List<string> problems)
    {
        if (node is not JsonObject spec)
        {
            problems.Add($"{path} must be an object with name, type and the type's fields.");
            return null;
        }

        var type = AgentStepConfig.Text(spec, "type", problems, path);
        var name = AgentStepConfig.Text(spec, "name", problems, path);
        if (type is null || !Types.Contains(type, StringComparer.Ordinal))
        {
            problems.Add($"{path}.type must be one of {string.Join(", ", Types)}.");
            return null;
        }

        if (name is null || !ToolName().IsMatch(name))
        {
            problems.Add($"{path}.name must match ^[a-zA-Z0-9_-]{{1,64}}$ (what providers accept as a function name).");
            return null;
        }

        if (spec["parameters"] is { } parameters && (parameters is not JsonObject schema || (string?)schema["type"] is not (null or "object")))
        {
            problems.Add($"{path}.parameters must be a JSON schema of an object ({{\"type\":\"object\",\"properties\":{{…}}}}).");
        }

        if (spec["requires_approval"] is { } approval && (approval is not JsonValue flag || !flag.TryGetValue<bool>(out _)))
        {
            problems.Add($"{path}.requires_approval must be true or false.");
        }

        CheckTypeFields(type, spec, path, problems);
        var parametersSchema = spec["parameters"] as JsonObject is { } given ? (JsonObject)given.DeepClone() : new JsonObject { ["type"] = "object" };
        parametersSchema["type"] ??= "object";
        return new AgentToolDefinition
        {
            Type = type,
            Name = name,
            Description = (string?)spec["description"],
            Parameters = parametersSchema,
            RequiresApproval = spec["requires_approval"] is JsonValue v && v.TryGetValue<bool>(out var b) && b,
            Spec = (JsonObject)spec.DeepClone(),
        };
    }

    private static void CheckTypeFields(string type, JsonObject spec, string path, List<string> problems)
    {
        switch (type)
        {
            case Http:
                if (AgentStepConfig.Text(spec, "url", problems, path) is not { } url)
                {
                    problems.Add($"{path}.url is required for an http tool.");
                }
                else if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                    && !url.StartsWith("${", StringComparison.Ordinal))
                {
                    problems.Add($"{path}.url must be an http:// or https:// URL (template).");
                }

                if ((string?)spec["method"] is { } method && !Methods.Contains(method.ToUpperInvariant(), StringComparer.Ordinal))
                {
                    problems.Add($"{path}.method must be one of {string.Join(", ", Methods)}.");
                }

                if (spec["headers"] is { } headers && headers is not JsonObject)
                {
                    problems.Add($"{path}.headers must be an object of header names to values.");
                }

                break;
            case Transform:
                if (spec["config"] is not JsonObject config || config["operation"] is null)
                {
                    problems.Add($"{path}.config must be a transform step's config (with operation).");
                }

                break;
            case ExternalApi:
                if (AgentStepConfig.Text(spec, "service", problems, path) is null || AgentStepConfig.Text(spec, "operation", problems, path) is null)
                {
                    problems.Add($"{path}.service and {path}.operation are required for an external_api tool.");
                }

                break;
            case Mcp:
                if (AgentStepConfig.Text(spec, "url", problems, path) is null)
                {
                    problems.Add($"{path}.url is required for an mcp tool source (the server's Streamable HTTP endpoint).");
                }

                break;
            case Workflow:
                if (AgentStepConfig.Text(spec, "workflow", problems, path) is null)
                {
                    problems.Add($"{path}.workflow is required for a workflow tool (the name of the workflow it runs).");
                }

                break;
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex ToolName();
}
