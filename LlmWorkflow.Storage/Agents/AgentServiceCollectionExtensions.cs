using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Steps;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Storage.Agents;

/// <summary>The agent module's registration: its step type for the runner, its loop state in PostgreSQL.</summary>
public static class AgentServiceCollectionExtensions
{
    /// <summary>Adds the <c>agent</c> step; its http tools go through the generic http step's SSRF-guarded client.</summary>
    public static IServiceCollection AddAgentSteps(this IServiceCollection services)
    {
        services.AddSingleton<IAgentStore, PostgresAgentStore>();
        services.AddSingleton(sp => new AgentServices(
            sp.GetRequiredService<IAgentStore>(),
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(ExternalHttp.GuardedClientName)));
        services.AddSingleton<StepModule>(sp => new AgentStepModule(sp.GetRequiredService<AgentServices>()));
        return services;
    }
}
