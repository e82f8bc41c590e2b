using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Transforms;
using LlmWorkflow.Tests.Engine.Fakes;

namespace LlmWorkflow.Tests.Engine;

[UnitTest]
public sealed class DryRunPlannerTests
{
    private static readonly DryRunPlanner Planner = new(
        new WorkflowValidator(TransformRegistry.CreateDefault()),
        prices: new DictionaryPriceTable(new() { ["openai/cheap"] = new ModelPrice(1m, 2m) }));

    private static readonly WorkflowDefinition Workflow = TestWorkflows.Parse("""
        {"name": "plan", "input_schema": {"type": "object", "required": ["name"]}, "steps": [
          {"id": "intro", "type": "llm", "display_name": "Intro", "config": {"model": "openai/cheap", "prompt": "Hello {{name}}", "variables": {"name": "${input.name}"}, "max_tokens": 1000}},
          {"id": "shape", "type": "transform", "config": {"operation": "template", "template": "{{who}}: {{what}}", "variables": {"who": "${input.name}", "what": "${steps.intro.output.text}"}}},
          {"id": "check", "type": "conditional", "config": {"condition": "input.vip", "then": [
              {"id": "vip", "type": "llm", "config": {"model": "openai/cheap", "prompt": "VIP", "max_tokens": 100}}],
            "else": [
              {"id": "plain", "type": "llm", "config": {"model": "mock/echo", "prompt": "plain"}}]}},
          {"id": "each", "type": "for_each", "config": {"items": [1, 2, 3], "steps": [
              {"id": "per", "type": "llm", "config": {"model": "openai/cheap", "prompt": "Item {{x}}", "variables": {"x": "${item}"}, "max_tokens": 10}}]}}
        ]}
        """);

    [Fact]
    public void WalksEveryBranchAndEstimatesCosts()
    {
        var plan = Planner.Plan(Workflow, new JsonObject { ["name"] = "Ada" });

        Assert.True(plan.IsValid);
        Assert.Equal(["intro", "shape", "check", "vip", "plain", "each", "per"], plan.Steps.Select(s => s.Id));
        var intro = plan.Steps[0];
        Assert.Equal(("user: Hello Ada", 3, 250, 1000), (intro.RenderedPrompt, intro.EstimatedInputTokens, intro.ExpectedOutputTokens, intro.MaxOutputTokens));
        Assert.Equal((0.000005m, 0.000503m, 0.002003m), (intro.MinCostUsd, intro.ExpectedCostUsd, intro.MaxCostUsd));
        Assert.Equal("""{"who":"Ada","what":"${steps.intro.output.text}"}""", plan.Steps[1].ResolvedConfig!["variables"]!.ToJsonString());
        Assert.Equal(("check", "else", 1), (plan.Steps[4].ParentStepId, plan.Steps[4].Branch, plan.Steps[4].Depth));
        Assert.Null(plan.Steps[4].MaxCostUsd);
        var per = plan.Steps[6];
        Assert.Equal((3, false, "user: Item ${item}", 0.000069m), (per.Runs, per.RunsUnknown, per.RenderedPrompt, per.MaxCostUsd));
        Assert.Equal((0.00002m, 0.0005495m, 0.002273m), (plan.MinCostUsd, plan.ExpectedCostUsd, plan.MaxCostUsd));
        Assert.Equal(["mock/echo"], plan.UnpricedModels);
    }

    [Fact]
    public void ReportsInputAndDefinitionProblems()
    {
        var plan = Planner.Plan(Workflow with { Name = "Bad Name" }, new JsonObject());

        Assert.False(plan.IsValid);
        Assert.Equal("$.name", Assert.Single(plan.InputProblems).Path);
        Assert.Equal(ValidationCodes.InvalidName, Assert.Single(plan.Problems).Code);
    }
}
