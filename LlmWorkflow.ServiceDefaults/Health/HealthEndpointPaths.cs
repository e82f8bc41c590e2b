namespace LlmWorkflow.ServiceDefaults.Health;

/// <summary>Where every service answers its health probes.</summary>
public static class HealthEndpointPaths
{
    /// <summary>All checks (database, Redis, workers, self); 200 when healthy or degraded, 503 when unhealthy.</summary>
    public const string Health = "/health";

    /// <summary>Only checks tagged <see cref="HealthCheckTags.Live"/>: is the process up at all.</summary>
    public const string Alive = "/alive";

    /// <summary>Both probe paths, e.g. to keep them out of traces.</summary>
    public static readonly IReadOnlyList<string> All = [Health, Alive];
}
