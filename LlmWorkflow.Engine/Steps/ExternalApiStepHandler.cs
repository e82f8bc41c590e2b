using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.External;

namespace LlmWorkflow.Engine.Steps;

/// <summary><c>external_api</c>: resolves <c>params</c> and calls the service registry; the output is the service's answer.</summary>
internal sealed class ExternalApiStepHandler(IExternalServiceGateway? gateway) : IStepHandler
{
    public bool IsCheckpointed => true;

    public async ValueTask<JsonNode?> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var services = gateway ?? throw WorkflowException.Config("external_not_configured", "No external service gateway is registered.");
        var config = StepConfigReader.Read(context.Step, DefinitionJsonContext.Default.ExternalApiStepConfig);
        var parameters = ValueResolver.Resolve(config.Params, context.Scope) as JsonObject ?? [];
        context.Input = new JsonObject { ["service"] = config.Service, ["operation"] = config.Operation, ["params"] = parameters.DeepClone() };
        return await services.CallAsync(config.Service, config.Operation, parameters, cancellationToken);
    }
}
