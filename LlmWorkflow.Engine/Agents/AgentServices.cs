using LlmWorkflow.Engine.External;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// What the agent step needs beyond the engine's own services: its durable store and the HTTP client of its
/// <c>http</c> tools. Hosts with a database pass the PostgreSQL store and the generic http step's guarded client; a
/// runner built without one keeps the loop's state in memory (<see cref="InMemoryAgentStore"/>).
/// </summary>
public sealed class AgentServices(IAgentStore store, HttpClient toolHttp)
{
    /// <summary>The longest tool result (characters) handed back to the model; longer ones are cut.</summary>
    public const int DefaultMaxToolResultChars = 32 * 1024;

    public IAgentStore Store { get; } = store;

    /// <summary>Sends http tools' requests: the SSRF guard on every connect, no redirects followed.</summary>
    public HttpClient ToolHttp { get; } = toolHttp;

    public int MaxToolResultChars { get; init; } = DefaultMaxToolResultChars;

    /// <summary>Finds and runs the workflows <c>workflow</c> tools name; a host without a catalog has none.</summary>
    public IChildWorkflows? Workflows { get; init; }

    /// <summary>In-memory state and a guarded client that refuses private networks (the safe default of engine-only runs).</summary>
    public static AgentServices InMemory(bool allowPrivateNetworks = false) => new(
        new InMemoryAgentStore(),
        new HttpClient(ExternalServiceCollectionExtensions.GuardedHandler(new ExternalServicesOptions { Http = { AllowPrivateNetworks = allowPrivateNetworks } }))
        {
            Timeout = TimeSpan.FromSeconds(100),
        });
}
