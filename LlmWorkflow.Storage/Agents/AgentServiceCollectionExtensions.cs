using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Steps;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Storage.Agents;

/// <summary>The agent module's registration: its step type for the runner, its loop state in PostgreSQL.</summary>
public static class AgentServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>agent</c> step; its http tools go through the generic http step's SSRF-guarded client, its workflow
    /// tools run the catalog's workflows.
    /// </summary>
    public static IServiceCollection AddAgentSteps(this IServiceCollection services)
    {
        services.AddSingleton<IAgentStore, PostgresAgentStore>();
        services.AddSingleton(sp => new AgentServices(
            sp.GetRequiredService<IAgentStore>(),
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(ExternalHttp.GuardedClientName))
        {
            // The runner is resolved at the first child run: it is built with this module, so not before.
            Workflows = new CatalogChildWorkflows(
                name => sp.GetRequiredService<WorkflowCatalog>().TryGet(name, out var workflow) ? workflow : null,
                sp.GetRequiredService<WorkflowRunner>),
        });
        services.AddSingleton<StepModule>(sp => new AgentStepModule(sp.GetRequiredService<AgentServices>()));
        return services;
    }
}
