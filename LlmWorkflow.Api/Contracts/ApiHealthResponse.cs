using System.Text.Json.Serialization;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Body of <c>GET /api/v1/health</c> (document 001's shape).</summary>
public sealed record ApiHealthResponse(HealthState Status, string Version, DateTimeOffset Timestamp, IReadOnlyDictionary<string, ServiceHealth> Services);

/// <summary>
/// One dependency's health: database, redis, workers, dispatch, and celery (document 001's name for the workers).
/// <paramref name="Type"/> says what the dependency is (document 001's <c>database.type</c>: postgresql);
/// <paramref name="Workers"/> counts the live workers (on workers and celery).
/// </summary>
public sealed record ServiceHealth(
    HealthState Status,
    string? Description,
    string? Error,
    [property: System.ComponentModel.Description("What the dependency is: postgresql, redis, redis_streams, llmworkflow_worker (the workers, Celery's equivalent); null when its check did not answer with one.")] string? Type = null,
    [property: System.ComponentModel.Description("Live worker processes (their heartbeats), on workers and celery; null for the other services and when Redis cannot be read.")] int? Workers = null);

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
