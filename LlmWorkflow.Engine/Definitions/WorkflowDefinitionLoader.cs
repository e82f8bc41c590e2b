using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>Parses workflow JSON into a <see cref="WorkflowDefinition"/> with typed control-flow configs.</summary>
public static class WorkflowDefinitionLoader
{
    public const string InvalidJsonCode = "invalid_json";
    public const string InvalidDefinitionCode = "invalid_definition";

    public static WorkflowLoadResult LoadFile(string path) => Parse(File.ReadAllText(path), Path.GetFileName(path));

    /// <param name="source">Names the origin in problem reports (file name).</param>
    public static WorkflowLoadResult Parse(string json, string source)
    {
        JsonNode? document;
        try
        {
            document = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            return new(null, [new(source, "$", InvalidJsonCode, JsonErrorText.Describe(ex), "Fix the JSON syntax at that line and column.")]);
        }

        WorkflowDefinition? definition;
        try
        {
            definition = document.Deserialize(DefinitionJsonContext.Default.WorkflowDefinition);
        }
        catch (JsonException ex)
        {
            return new(null, [ProblemFrom(ex, source, "$")]);
        }

        if (definition is null)
        {
            return new(null, [new(source, "$", InvalidDefinitionCode, "The file holds null instead of a workflow object.", "Write a JSON object with name and steps.")]);
        }

        var problems = new List<ValidationProblem>();
        var steps = AttachAll(definition.Steps, "$.steps", source, problems);
        return new(definition with { Steps = steps }, problems);
    }

    private static List<StepDefinition> AttachAll(IReadOnlyList<StepDefinition> steps, string listPath, string source, List<ValidationProblem> problems) =>
        [.. steps.Select((step, index) => Attach(step, $"{listPath}[{index}]", source, problems))];

    /// <summary>Gives a control-flow step its typed config, recursively for the steps nested in it.</summary>
    private static StepDefinition Attach(StepDefinition step, string stepPath, string source, List<ValidationProblem> problems)
    {
        var configPath = stepPath + ".config";
        IControlFlowConfig? flow = step.Type switch
        {
            StepTypes.Conditional => Read(step, DefinitionJsonContext.Default.ConditionalStepConfig, configPath, source, problems) is { } c
                ? c with
                {
                    Then = AttachAll(c.Then, configPath + ".then", source, problems),
                    Else = AttachAll(c.Else, configPath + ".else", source, problems),
                }
                : null,
            StepTypes.Parallel => Read(step, DefinitionJsonContext.Default.ParallelStepConfig, configPath, source, problems) is { } p
                ? p with
                {
                    Branches = p.Branches.ToDictionary(
                        b => b.Key,
                        IReadOnlyList<StepDefinition> (b) => AttachAll(b.Value, $"{configPath}.branches.{b.Key}", source, problems),
                        StringComparer.Ordinal),
                }
                : null,
            StepTypes.ForEach => Read(step, DefinitionJsonContext.Default.ForEachStepConfig, configPath, source, problems) is { } f
                ? f with { Steps = AttachAll(f.Steps, configPath + ".steps", source, problems) }
                : null,
            _ => null,
        };
        return flow is null ? step : step with { ControlFlow = flow };
    }

    private static T? Read<T>(StepDefinition step, JsonTypeInfo<T> typeInfo, string configPath, string source, List<ValidationProblem> problems)
        where T : class
    {
        try
        {
            return step.Config.Deserialize(typeInfo);
        }
        catch (JsonException ex)
        {
            problems.Add(ProblemFrom(ex, source, configPath));
            return null;
        }
    }

    /// <summary>Rebases the serializer's path (relative to what it read) onto the definition's path.</summary>
    private static ValidationProblem ProblemFrom(JsonException ex, string source, string basePath)
    {
        var relative = ex.Path is { Length: > 1 } path ? path[1..] : "";
        return new(source, basePath + relative, InvalidDefinitionCode, JsonErrorText.DescribeShape(ex), "Compare the property with workflows/workflow.schema.json.");
    }
}
