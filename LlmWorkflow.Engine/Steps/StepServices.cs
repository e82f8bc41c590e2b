using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Engine.Steps;

/// <summary>The collaborators step handlers call; optional ones fail the step with a CONFIG_ERROR when missing.</summary>
internal sealed record StepServices(
    TransformRegistry Transforms,
    ILlmGateway? Llm,
    IExternalServiceGateway? External,
    IPriceTable? Prices);
