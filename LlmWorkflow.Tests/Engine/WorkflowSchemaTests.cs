using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Engine;

/// <summary>Keeps workflows/workflow.schema.json and the C# definition model in step.</summary>
[SystemTest]
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
    public async Task EveryShippedDefinitionValidatesAgainstTheSchemaInAjvStrictMode()
    {
        var files = Directory.GetFiles(RepositoryPaths.Definitions, "*.json");
        Assert.NotEmpty(files);

        // Strict mode also checks the schema itself: editors and ajv users compile it that way.
        Assert.Equal("valid", (await AjvAsync(files)).Trim());
        Assert.All(files, file => Assert.Equal("../workflow.schema.json", JsonNode.Parse(File.ReadAllText(file))!["$schema"]!.GetValue<string>()));
    }

    [Fact]
    public async Task TheSchemaRejectsABrokenDefinition()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(broken, """
            {"name": "x", "steps": [{"id": "a", "type": "llm", "on_error": "explode", "config": {"model": "gpt4", "prompt": "p", "temperature": 5}}]}
            """, TestContext.Current.CancellationToken);
        try
        {
            var errors = JsonNode.Parse(await AjvAsync([broken], expectValid: false))!.AsArray();
            var places = errors.Select(e => (string?)e!["instancePath"]).ToHashSet();

            Assert.Contains("/steps/0/on_error", places);
            Assert.Contains("/steps/0/config/model", places);
            Assert.Contains(errors, e => (string?)e!["instancePath"] == "/steps/0/config/temperature" && (string?)e["keyword"] == "maximum");
        }
        finally
        {
            File.Delete(broken);
        }
    }

    private static Task<string> AjvAsync(IEnumerable<string> documents, bool expectValid = true) =>
        ExternalCommand.RunAsync(
            "node",
            [SetupScripts.JsonSchemaValidator, "--strict",
                Path.Combine(RepositoryPaths.Workflows, "workflow.schema.json"), .. documents],
            TimeSpan.FromSeconds(60),
            allowFailure: !expectValid);
}
