using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class WorkflowDefinitionLoaderTests
{
    [Fact]
    public void ReadsTheStringAndObjectFormsOfOnError()
    {
        var workflow = TestWorkflows.WithSteps("""
            [{"id": "a", "type": "transform", "on_error": "continue", "config": {"operation": "count", "input": []}},
             {"id": "b", "type": "transform", "on_error": {"mode": "retry", "max_attempts": 4, "backoff_seconds": 0.5, "backoff_multiplier": 3}, "config": {"operation": "count", "input": []}},
             {"id": "c", "type": "transform", "on_error": {"mode": "default", "value": [1]}, "config": {"operation": "count", "input": []}}]
            """);

        Assert.Equal(OnErrorMode.Continue, workflow.Steps[0].OnError!.Mode);
        var retry = workflow.Steps[1].OnError!;
        Assert.Equal((4, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(4.5)), (retry.EffectiveMaxAttempts, retry.BackoffBefore(2), retry.BackoffBefore(4)));
        Assert.Equal("[1]", workflow.Steps[2].OnError!.Value!.ToJsonString());
    }

    [Fact]
    public void GivesControlFlowStepsTheirNestedStepsRecursively()
    {
        var workflow = TestWorkflows.WithSteps("""
            [{"id": "fan", "type": "parallel", "config": {"mode": "wait_all", "branches": {"x": [
               {"id": "each", "type": "for_each", "config": {"items": [1, 2], "steps": [
                 {"id": "pick", "type": "conditional", "config": {"condition": "item > 1", "then": [
                   {"id": "leaf", "type": "transform", "config": {"operation": "count", "input": []}}]}}]}}]}}}]
            """);

        var locations = WorkflowWalker.Walk(workflow).ToList();

        Assert.Equal(
            ["$.steps[0]", "$.steps[0].config.branches.x[0]", "$.steps[0].config.branches.x[0].config.steps[0]", "$.steps[0].config.branches.x[0].config.steps[0].config.then[0]"],
            locations.Select(l => l.JsonPath));
        Assert.Equal(("pick", "then", 3), (locations[3].Parent!.Id, locations[3].Block, locations[3].Depth));
        Assert.Equal(ParallelMode.WaitAll, ((ParallelStepConfig)workflow.Steps[0].ControlFlow!).Mode);
    }

    [Theory]
    [InlineData("""{"name": "x", "steps": [], "extra": 1}""", "$.extra")]
    [InlineData("""{"name": "x", "steps": [{"id": "a", "type": "llm", "dispaly_name": "typo"}]}""", "$.steps[0].dispaly_name")]
    [InlineData("""{"name": "x", "steps": [{"id": "a", "type": "parallel", "config": {"branches": {"b": [{"id": "c"}]}}}]}""", "$.steps[0].config.branches.b[0]")]
    [InlineData("""{"steps": []}""", "$")]
    public void ReportsShapeErrorsWithTheirPath(string json, string path)
    {
        // The reader's own problem comes first; the schema's other findings (an empty steps list, say) follow it.
        var problem = WorkflowDefinitionLoader.Parse(json, "x.json").Problems.First();

        Assert.Equal((WorkflowDefinitionLoader.InvalidDefinitionCode, path), (problem.Code, problem.JsonPath));
    }
}
