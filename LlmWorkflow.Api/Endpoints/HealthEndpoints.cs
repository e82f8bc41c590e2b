using System.Reflection;
using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
using LlmWorkflow.ServiceDefaults.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmWorkflow.Api.Endpoints;

/// <summary>
/// <c>GET /api/v1/health</c>: document 001's health path and shape (<c>status</c>, <c>version</c>, <c>services</c>,
/// <c>timestamp</c>), built from the same checks as <c>/health</c>. Anonymous, like the probes.
/// </summary>
internal static class HealthEndpoints
{
    private static readonly string Version =
        typeof(HealthEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0.0";

    public static WebApplication MapApiHealth(this WebApplication app)
    {
        app.MapGet("/api/v1/health", CheckAsync)
            .AllowAnonymous()
            .WithTags("Health")
            .WithName("ApiHealth")
            .WithSummary("Service health: database, redis and workers, with the service version")
            .WithDescription("200 when healthy or degraded, 503 when a dependency is unhealthy. No API key needed. services has database " +
                             "(type postgresql), redis, workers and dispatch, and celery: document 001's name for the workers, with the " +
                             "same status and its numeric workers count.");
        return app;
    }

    private static async Task<Results<Ok<ApiHealthResponse>, JsonHttpResult<ApiHealthResponse>>> CheckAsync(
        HealthCheckService health, TimeProvider time, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var services = DocumentServiceHealth.From(report)
            .ToDictionary(s => s.Name, s => new ServiceHealth(Enum.Parse<HealthState>(s.Status, ignoreCase: true), s.Description, s.Error, s.Type, s.Workers));
        var body = new ApiHealthResponse(Wire(report.Status), Version, time.GetUtcNow(), services);
        return report.Status == HealthStatus.Unhealthy
            ? TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable)
            : TypedResults.Ok(body);
    }

    private static HealthState Wire(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => HealthState.Healthy,
        HealthStatus.Degraded => HealthState.Degraded,
        _ => HealthState.Unhealthy,
    };
}
