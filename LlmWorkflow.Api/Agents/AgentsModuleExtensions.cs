using LlmWorkflow.Storage.Agents;

namespace LlmWorkflow.Api.Agents;

/// <summary>The agents' part of the API host's composition.</summary>
internal static class AgentsModuleExtensions
{
    /// <summary>
    /// The agent step's module: the signal endpoint asks it which events an agent step waits for, and the job page
    /// reads its turns (docs/AGENTS.md). The API runs no step; the module's handler is only built by workers.
    /// </summary>
    public static WebApplicationBuilder AddAgents(this WebApplicationBuilder builder)
    {
        builder.Services.AddAgentSteps();
        builder.Services.AddSingleton<AgentTurnsReader>();
        return builder;
    }
}
