using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Tests.Engine;

/// <summary>
/// "Which events can this workflow's steps await?" (<see cref="AwaitedEvents"/>), the question the signal endpoint asks
/// to refuse an event no step would take: the engine's waits answer for themselves, a step module for its own steps (the
/// agent module says "approval" for a step with a <c>requires_approval</c> tool), and without the module nobody speaks
/// for an agent step.
/// </summary>
[UnitTest]
public sealed class AwaitedEventsTests
{
    private static readonly StepModule[] Agents = [new AgentStepModule()];

    [Fact]
    public void TheAgentModuleAnswersApprovalForAStepWithAToolNeedingApproval()
    {
        var shipped = Load(File.ReadAllText(Path.Combine(RepositoryPaths.Definitions, "support_agent.json")));

        Assert.Equal(["approval"], AwaitedEvents.Of(shipped, Agents));
        Assert.Empty(AwaitedEvents.Of(shipped, []));
    }

    [Fact]
    public void AnAgentStepWhoseToolsNeedNoApprovalAwaitsNothing()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Definitions, "support_agent.json")))!;
        foreach (var tool in json["steps"]![0]!["config"]!["tools"]!.AsArray())
        {
            tool!.AsObject().Remove("requires_approval");
        }

        Assert.Empty(AwaitedEvents.Of(Load(json.ToJsonString()), Agents));
    }

    [Fact]
    public void TheEnginesOwnWaitsNestedOnesIncludedAndBudgetDecisionsAreAwaited()
    {
        var workflow = Load("""
            {"name": "waits", "on_budget": "wait_for_approval", "steps": [
              {"id": "paid", "type": "wait_for_event", "config": {"event": "payment.received"}},
              {"id": "fan", "type": "parallel", "config": {"branches": {
                "left": [{"id": "check", "type": "approval", "config": {"prompt": "ok?"}}],
                "right": [{"id": "sign", "type": "approval", "config": {"prompt": "sign?", "event": "legal.signed"}}]}}}]}
            """);

        Assert.Equal(
            ["approval", "budget.check", "budget.fan", "budget.paid", "budget.sign", "legal.signed", "payment.received"],
            AwaitedEvents.Of(workflow, Agents).Order(StringComparer.Ordinal));
    }

    private static WorkflowDefinition Load(string json)
    {
        var loaded = WorkflowDefinitionLoader.Parse(json, "test.json");
        Assert.Empty(loaded.Problems);
        return loaded.Definition!;
    }
}
