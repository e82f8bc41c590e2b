using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// A definition the loader refuses is reported with every structural problem, as ajv reports the same document against
/// workflows/workflow.schema.json (issue 80 item 15), not only the first the serializer met.
/// </summary>
[UnitTest]
public sealed class WorkflowSchemaCheckTests
{
    [Fact]
    public void ARefusedDefinitionListsEveryProblemAjvFinds()
    {
        // The document WorkflowSchemaTests gives ajv: it finds on_error, model and temperature.
        var loaded = WorkflowDefinitionLoader.Parse("""
            {"name": "x", "steps": [{"id": "a", "type": "llm", "on_error": "explode", "config": {"model": "gpt4", "prompt": "p", "temperature": 5}}]}
            """, "broken.json");

        Assert.Null(loaded.Definition);
        var places = loaded.Problems.Select(p => p.JsonPath).ToHashSet();
        Assert.Contains("$.steps[0].on_error", places);
        Assert.Contains("$.steps[0].config.model", places);
        Assert.Contains("$.steps[0].config.temperature", places);
    }

    [Fact]
    public void ProblemsInsideNestedStepsAreListedBesideTheTopLevelOnes()
    {
        var loaded = WorkflowDefinitionLoader.Parse("""
            {"name": "x", "timeout_seconds": "soon", "steps": [
              {"id": "fan", "type": "parallel", "config": {"branches": {
                "a": [{"id": "a1", "type": "transform", "config": {"operation": "template", "template": "x"}, "colour": "red"}],
                "b": [{"id": "b1", "type": "sleep", "config": {"seconds": "ten"}}]}}}]}
            """, "nested.json");

        Assert.Null(loaded.Definition);
        var places = loaded.Problems.Select(p => p.JsonPath).ToHashSet();
        Assert.Contains("$.timeout_seconds", places);
        Assert.Contains("$.steps[0].config.branches.a[0].colour", places);
        Assert.Contains("$.steps[0].config.branches.b[0].config.seconds", places);
    }

    [Fact]
    public void AValidDefinitionHasNoSchemaProblems()
    {
        var document = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Definitions, "hello_transform.json")));
        Assert.Empty(WorkflowSchemaCheck.Problems(document, "hello_transform.json"));
    }

    [Theory]
    [InlineData("", "$")]
    [InlineData("/steps/0/config", "$.steps[0].config")]
    [InlineData("/steps/2/config/branches/a~1b/0", "$.steps[2].config.branches.a/b[0]")]
    public void PointersReadAsTheJsonPathsOfTheOtherProblems(string pointer, string path) =>
        Assert.Equal(path, WorkflowSchemaCheck.ToJsonPath(pointer));
}
