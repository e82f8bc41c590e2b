using System.Reflection;
using LlmWorkflow.Api.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
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
            .WithDescription("200 when healthy or degraded, 503 when a dependency is unhealthy. No API key needed.");
        return app;
    }

    private static async Task<Results<Ok<ApiHealthResponse>, JsonHttpResult<ApiHealthResponse>>> CheckAsync(
        HealthCheckService health, TimeProvider time, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var services = report.Entries
            .Where(e => e.Key != "self")
            .ToDictionary(e => e.Key, e => new ServiceHealth(Wire(e.Value.Status), e.Value.Description, e.Value.Exception?.Message));
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
