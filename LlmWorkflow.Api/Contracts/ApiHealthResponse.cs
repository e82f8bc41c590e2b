using System.Text.Json.Serialization;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Body of <c>GET /api/v1/health</c> (document 001's shape).</summary>
public sealed record ApiHealthResponse(HealthState Status, string Version, DateTimeOffset Timestamp, IReadOnlyDictionary<string, ServiceHealth> Services);

/// <summary>One dependency's health: database, redis or workers.</summary>
public sealed record ServiceHealth(HealthState Status, string? Description, string? Error);

/// <summary>Health as the documents spell it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<HealthState>))]
public enum HealthState
{
    [JsonStringEnumMemberName("healthy")]
    Healthy,

    [JsonStringEnumMemberName("degraded")]
    Degraded,

    [JsonStringEnumMemberName("unhealthy")]
    Unhealthy,
}
