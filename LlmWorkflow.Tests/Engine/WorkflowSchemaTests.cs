using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Tests.Engine;

/// <summary>Keeps workflows/workflow.schema.json and the C# definition model in step.</summary>
public sealed class WorkflowSchemaTests
{
    private static readonly JsonObject Schema =
        JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Workflows, "workflow.schema.json")))!.AsObject();

    public static TheoryData<string, string> ModelTypes => new()
    {
        { nameof(WorkflowDefinition), "" },
        { nameof(StepDefinition), "step" },
        { nameof(OnErrorPolicy), "onError" },
        { nameof(LlmStepConfig), "llmConfig" },
        { nameof(LlmMessageTemplate), "message" },
        { nameof(ExternalApiStepConfig), "externalApiConfig" },
        { nameof(ConditionalStepConfig), "conditionalConfig" },
        { nameof(ParallelStepConfig), "parallelConfig" },
        { nameof(ForEachStepConfig), "forEachConfig" },
    };

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void ModelPropertiesAndSchemaPropertiesAreTheSame(string typeName, string definition)
    {
        var type = typeof(WorkflowDefinition).Assembly.GetType($"{typeof(WorkflowDefinition).Namespace}.{typeName}")!;
        var modelNames = type.GetProperties()
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name)
            .OfType<string>()
            .Order(StringComparer.Ordinal);

        var schema = definition.Length == 0 ? Schema : Schema["$defs"]![definition]!.AsObject();
        var properties = (schema["properties"] ?? schema["oneOf"]!.AsArray().Single(o => o!["properties"] is not null)!["properties"])!.AsObject();

        Assert.Equal(modelNames, properties.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void StepTypesAndTransformOperationsMatchTheEngine()
    {
        var steps = Schema["$defs"]!["step"]!["properties"]!;

        Assert.Equal(StepTypes.All, steps["type"]!["enum"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(
            TransformRegistry.CreateDefault().Names,
            Schema["$defs"]!["transformConfig"]!["properties"]!["operation"]!["enum"]!.AsArray().Select(t => t!.GetValue<string>()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EveryShippedDefinitionValidatesAgainstTheSchema()
    {
        var files = Directory.GetFiles(RepositoryPaths.Definitions, "*.json");
        Assert.NotEmpty(files);

        foreach (var file in files)
        {
            var errors = new SchemaSubsetValidator(Schema).Validate(JsonNode.Parse(File.ReadAllText(file)));
            Assert.True(errors.Count == 0, $"{Path.GetFileName(file)}: {string.Join("; ", errors)}");
            Assert.Equal("../workflow.schema.json", JsonNode.Parse(File.ReadAllText(file))!["$schema"]!.GetValue<string>());
        }
    }

    [Fact]
    public void TheSchemaRejectsABrokenDefinition()
    {
        var broken = JsonNode.Parse("""
            {"name": "x", "steps": [{"id": "a", "type": "llm", "on_error": "explode", "config": {"model": "gpt4", "prompt": "p", "temperature": 5}}]}
            """);

        Assert.Equal(
            ["$.steps[0].on_error: does not match exactly one of oneOf", "$.steps[0].config.model: does not match exactly one of oneOf", "$.steps[0].config.temperature: out of range"],
            new SchemaSubsetValidator(Schema).Validate(broken));
    }
}
