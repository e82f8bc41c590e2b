using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// A <c>parallel</c> step without <c>branches</c> and a <c>for_each</c> without <c>steps</c> (a misspelt key, say) are
/// validation errors naming the missing key in JSON terms, as the workflow schema requires them; otherwise what sat under
/// the misspelt key (a sleep, a wait) would never run and never be reported.
/// </summary>
[UnitTest]
public sealed class ControlFlowRequiredKeysTests
{
    [Theory]
    [InlineData("""{"id": "fan", "type": "parallel", "config": {"branch": {"a": [{"id": "nap", "type": "sleep", "config": {"seconds": 5}}]}}}""", "$.steps[0].config.branches", "branches")]
    [InlineData("""{"id": "fan", "type": "parallel"}""", "$.steps[0].config.branches", "branches")]
    [InlineData("""{"id": "each", "type": "for_each", "config": {"items": [1, 2], "step": [{"id": "nap", "type": "sleep", "config": {"seconds": 5}}]}}""", "$.steps[0].config.steps", "steps")]
    [InlineData("""{"id": "each", "type": "for_each", "config": {"steps": [{"id": "t", "type": "transform", "config": {"operation": "count", "input": []}}]}}""", "$.steps[0].config.items", "items")]
    public void AMissingRequiredKeyIsAProblemNamingIt(string step, string jsonPath, string key)
    {
        var problems = Check($$"""{"name": "flow", "steps": [{{step}}]}""");

        var problem = Assert.Single(problems, p => p.JsonPath == jsonPath);
        Assert.Contains($"\"{key}\"", problem.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(problem.Hint));
    }

    [Fact]
    public void ANestedControlFlowStepWithoutItsKeyIsReportedAtItsOwnPath()
    {
        var problems = Check("""
            {"name": "flow", "steps": [{"id": "pick", "type": "conditional", "config": {"condition": "input.x", "then": [
              {"id": "each", "type": "for_each", "config": {"items": [1]}}]}}]}
            """);

        Assert.Single(problems, p => p.JsonPath == "$.steps[0].config.then[0].config.steps");
    }

    [Fact]
    public void TheDryRunOfAnAdHocDefinitionIsNotValidWithoutThem()
    {
        // What POST /api/v1/workflow/validate does with a definition that loads: the planner's validator decides is_valid.
        var loaded = WorkflowDefinitionLoader.Parse("""
            {"name": "flow", "steps": [{"id": "fan", "type": "parallel", "config": {"branch": {"a": [{"id": "nap", "type": "sleep", "config": {"seconds": 5}}]}}}]}
            """, "request.workflow");
        var planner = new LlmWorkflow.Engine.Execution.DryRunPlanner(new WorkflowValidator(TransformRegistry.CreateDefault()));

        var plan = planner.Plan(loaded.Definition!, new System.Text.Json.Nodes.JsonObject());

        Assert.False(plan.IsValid);
        Assert.Contains(plan.Problems, p => p.JsonPath == "$.steps[0].config.branches");
    }

    private static IReadOnlyList<ValidationProblem> Check(string json)
    {
        var loaded = WorkflowDefinitionLoader.Parse(json, "flow.json");
        var validator = new WorkflowValidator(TransformRegistry.CreateDefault(), new PromptLibrary(RepositoryPaths.TestPrompts), new FakeExternalServiceGateway());
        return loaded.Definition is { } workflow ? [.. loaded.Problems, .. validator.Validate(workflow, "flow.json")] : loaded.Problems;
    }
}
