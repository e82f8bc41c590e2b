using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.External;

/// <summary>One external API the <c>external_api</c> step can call, with named operations.</summary>
public interface IExternalService
{
    /// <summary>Name used in workflow definitions, e.g. <c>weatherapi</c>.</summary>
    string Name { get; }

    IReadOnlyCollection<string> Operations { get; }

    /// <summary>Cache lifetime when configuration sets none; zero = never cached (e.g. POST).</summary>
    TimeSpan DefaultCacheTtl(string operation);

    /// <summary>Secret values (API keys) to redact from anything this service's failures say.</summary>
    IEnumerable<string?> Secrets { get; }

    /// <summary>Performs the call; throws <see cref="Execution.WorkflowException"/> classified by the service.</summary>
    Task<JsonNode?> CallAsync(string operation, JsonObject parameters, CancellationToken cancellationToken);
}
