using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// The agent step as a module beside the engine's own steps: a host adds it to the runner's modules; without
/// <paramref name="services"/> the loop keeps its state in memory (the CLI's local runs).
/// </summary>
public sealed class AgentStepModule(AgentServices? services = null) : StepModule
{
    internal override string StepType => StepTypes.Agent;

    internal override IStepHandler CreateHandler(StepServices engine) => new AgentStepHandler(
        engine.Llm, services ?? AgentServices.InMemory(), engine.Transforms, engine.External, engine.Prompts, engine.Prices);

    /// <summary>A step with a <c>requires_approval</c> tool (or tool source) parks on "approval" decisions (<see cref="AgentApproval"/>).</summary>
    protected override IEnumerable<string> EventsAwaitedBy(StepDefinition step) =>
        step.Config["tools"] is JsonArray tools && tools.Any(t => t?["requires_approval"] is JsonValue flag && flag.TryGetValue<bool>(out var needed) && needed)
            ? [AgentApproval.EventName]
            : [];
}
