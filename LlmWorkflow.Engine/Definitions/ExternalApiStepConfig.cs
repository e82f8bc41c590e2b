using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary><c>external_api</c> config; the step's output is whatever the service returns.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ExternalApiStepConfig
{
    /// <summary>Registered service name, e.g. <c>weatherapi</c>, <c>google_places</c>, <c>http</c>.</summary>
    [JsonPropertyName("service")]
    public required string Service { get; init; }

    [JsonPropertyName("operation")]
    public required string Operation { get; init; }

    /// <summary>Parameters; expressions are resolved before the call.</summary>
    [JsonPropertyName("params")]
    public JsonObject? Params { get; init; }
}
