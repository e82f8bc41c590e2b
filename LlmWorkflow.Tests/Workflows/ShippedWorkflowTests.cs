using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Tests.Workflows;

/// <summary>Static checks of everything shipped under workflows/: definitions, prompts, examples, mock answers.</summary>
[UnitTest]
public sealed class ShippedWorkflowTests
{
    public static TheoryData<string> Workflows() => [.. ExampleFiles.WorkflowNames];

    [Fact]
    public void TheProductionAndExampleWorkflowsAreShipped()
    {
        Assert.Equal(
            ["content_approval", "emergency_contacts", "follow_up", "generate_project", "hello_transform", "mission_generation", "order_payment", "support_agent", "support_triage", "trip_briefing"],
            ExampleFiles.WorkflowNames);
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void DefinitionPassesTheValidatorWithPromptsAndTransforms(string workflow)
    {
        var loaded = WorkflowDefinitionLoader.LoadFile(Path.Combine(ExampleFiles.Definitions, workflow + ".json"));
        Assert.Empty(loaded.Problems);
        var validator = new WorkflowValidator(TransformRegistry.CreateDefault(), new PromptLibrary(ExampleFiles.Prompts));

        var problems = validator.Validate(loaded.Definition!, workflow + ".json");

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(workflow, loaded.Definition!.Name);
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void EveryStepHasADisplayNameAndADescription(string workflow)
    {
        var definition = WorkflowDefinitionLoader.LoadFile(Path.Combine(ExampleFiles.Definitions, workflow + ".json")).Definition!;
        Assert.False(string.IsNullOrWhiteSpace(definition.Description));
        foreach (var location in WorkflowWalker.Walk(definition))
        {
            Assert.False(string.IsNullOrWhiteSpace(location.Step.DisplayName), $"{workflow} {location.JsonPath}: no display_name");
            Assert.False(string.IsNullOrWhiteSpace(location.Step.Description), $"{workflow} {location.JsonPath}: no description");
        }
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void TheExampleInputMatchesTheInputSchema(string workflow)
    {
        var schema = ExampleFiles.Definition(workflow)["input_schema"]!.AsObject();
        Assert.Empty(InputSchemaValidator.Validate(schema, ExampleFiles.Example(workflow)));
    }

    [Fact]
    public void EveryExampleAndMockAnswerFileBelongsToAWorkflow()
    {
        var names = ExampleFiles.WorkflowNames.ToHashSet();
        var examples = Directory.GetFiles(ExampleFiles.Examples, "*.json").Select(Path.GetFileNameWithoutExtension);
        Assert.Equal(names.Order(), examples.Order()!);

        foreach (var file in Directory.GetFiles(Path.Combine(ExampleFiles.Examples, "..", "mock-responses"), "*.json"))
        {
            var workflow = Path.GetFileNameWithoutExtension(file);
            Assert.Contains(workflow, names);
            var stepIds = WorkflowWalker.Walk(WorkflowDefinitionLoader.LoadFile(Path.Combine(ExampleFiles.Definitions, workflow + ".json")).Definition!)
                .Where(l => l.Step.Type is "llm" or "agent").Select(l => l.Step.Id).ToHashSet();
            foreach (var (step, _) in JsonNode.Parse(File.ReadAllText(file))!.AsObject())
            {
                Assert.True(stepIds.Contains(step), $"{Path.GetFileName(file)}: '{step}' is not an llm or agent step of {workflow}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Workflows))]
    public void EveryModelIsPriced(string workflow)
    {
        var prices = PriceTable.Load(new PricingOptions { FilePath = Path.Combine(ExampleFiles.Examples, "..", "pricing.json") });
        var definition = WorkflowDefinitionLoader.LoadFile(Path.Combine(ExampleFiles.Definitions, workflow + ".json")).Definition!;
        foreach (var step in WorkflowWalker.Walk(definition).Where(l => l.Step.Type == "llm").Select(l => l.Step))
        {
            var models = step.Config["model"] is JsonArray chain ? chain.Select(m => m!.GetValue<string>()) : [step.Config["model"]!.GetValue<string>()];
            foreach (var model in models)
            {
                Assert.True(prices.TryGetPrice(model, out _), $"{workflow} {step.Id}: {model} is not in pricing.json");
            }
        }
    }

    [Fact]
    public void ThePromptsIncludeTheSharedSafetyAndToneFiles()
    {
        var library = new PromptLibrary(ExampleFiles.Prompts);
        foreach (var path in new[] { "emergency-contacts/system-prompt.md", "mission-generation/system-prompt.md" })
        {
            var text = library.Load(path).Render(new JsonObject());
            Assert.Contains("call 911", text, StringComparison.Ordinal);
            Assert.Contains("Never invent phone numbers", text, StringComparison.Ordinal);
            Assert.DoesNotContain("{{", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheEmergencyPromptListsPlacesOrSaysNoneWereFound()
    {
        var library = new PromptLibrary(ExampleFiles.Prompts);
        var variables = ExampleFiles.Example("emergency_contacts");
        variables["hospitals"] = JsonNode.Parse("""[{"name": "Zuckerberg San Francisco General Hospital", "address": "1001 Potrero Ave", "lat": 37.75, "lng": -122.4, "rating": 4.1}]""");
        variables["police"] = new JsonArray();
        variables["fire_stations"] = new JsonArray();

        var text = library.Load("emergency-contacts/workflow-prompt.md").Render(variables);

        Assert.Contains("- Zuckerberg San Francisco General Hospital, 1001 Potrero Ave (lat 37.75, lng -122.4, rating 4.1)", text, StringComparison.Ordinal);
        Assert.Contains("No police stations were found", text, StringComparison.Ordinal);
        Assert.Contains("No fire stations were found", text, StringComparison.Ordinal);
        Assert.DoesNotContain("No hospitals were found", text, StringComparison.Ordinal);
        Assert.Contains("- **Scenarios:** earthquake\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Contacts the family already keeps", text, StringComparison.Ordinal);
        Assert.Contains("## Output format", text, StringComparison.Ordinal);
        Assert.Contains("**earthquake**", text, StringComparison.Ordinal);
    }
}
