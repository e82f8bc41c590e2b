using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// What the engine's <c>external_api</c> step calls: a registry of services (weatherapi, google_places, http)
/// with caching and shared rate limits. Failures are thrown as <see cref="Execution.WorkflowException"/>.
/// </summary>
public interface IExternalServiceGateway
{
    Task<JsonNode?> CallAsync(string service, string operation, JsonObject parameters, CancellationToken cancellationToken);

    /// <summary>Validation hook: null when the service/operation exists, else a message with a fix hint.</summary>
    string? Describe(string service, string operation);
}
