using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmWorkflow.Storage.Health;

/// <summary>The hosts' readiness checks (/health): registered with the core's services, run by no job.</summary>
public static class HealthCheckServiceCollectionExtensions
{
    /// <summary>The readiness checks: PostgreSQL, the workers' heartbeats, dispatch; each bounded in time.</summary>
    public static IServiceCollection AddStorageHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            // Document 001 reads the workers as services.celery (status and a numeric workers count): the alias tag
            // makes /health and /api/v1/health report this check under that name too.
            .AddCheck<WorkersHealthCheck>("workers", tags: ["ready", WorkersHealthCheck.CeleryAlias])
            .AddCheck<DispatchHealthCheck>("dispatch", tags: ["ready"]);
        services.PostConfigure<HealthCheckServiceOptions>(health =>
        {
            // A stalled PostgreSQL stops submissions (unhealthy); a stalled Redis only delays dispatch (degraded).
            TimeBoundHealthCheck.Apply(health, "database", HealthStatus.Unhealthy, "postgresql", "postgresql");
            TimeBoundHealthCheck.Apply(health, "workers", HealthStatus.Degraded, "redis (worker heartbeats)", "llmworkflow_worker");
            TimeBoundHealthCheck.Apply(health, "dispatch", HealthStatus.Degraded, "redis (worker heartbeats)", "redis_streams");
        });
        return services;
    }
}
