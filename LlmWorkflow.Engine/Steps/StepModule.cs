using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// A step type that a capability module adds beside the engine's own (the agent step is the first): the runner asks
/// each module it is given for its handler, so the runner never names a module and a host without the module does
/// not load its code.
/// </summary>
public abstract class StepModule
{
    /// <summary>The <c>type</c> the module's steps carry in a definition.</summary>
    internal abstract string StepType { get; }

    internal abstract IStepHandler CreateHandler(StepServices services);

    /// <summary>
    /// The signal events a step of this module's type may park on (the agent's tool approvals wait for "approval"); the
    /// signal endpoint refuses any event no step awaits (<see cref="AwaitedEvents"/>). None unless the module says so.
    /// </summary>
    protected virtual IEnumerable<string> EventsAwaitedBy(StepDefinition step) => [];

    internal IEnumerable<string> EventsOf(StepDefinition step) => step.Type == StepType ? EventsAwaitedBy(step) : [];
}

/// <summary>The engine's services a module's step handler may use; each is null where the host has none.</summary>
internal sealed record StepServices(
    TransformRegistry Transforms, ILlmGateway? Llm, IExternalServiceGateway? External, PromptLibrary? Prompts, IPriceTable? Prices);
