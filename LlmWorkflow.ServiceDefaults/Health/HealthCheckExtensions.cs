using LlmWorkflow.ServiceDefaults.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>Default health checks and the <c>/health</c> and <c>/alive</c> endpoints.</summary>
public static class HealthCheckExtensions
{
    /// <summary>Adds a <c>self</c> check tagged <c>live</c>; services add their dependencies tagged <c>ready</c>.</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy("The process is running."), [HealthCheckTags.Live]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (every check, with a JSON report of each) and <c>/alive</c> (only <c>live</c> checks).
    /// Both stay anonymous: orchestrators and the dashboard call them.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks(HealthEndpointPaths.Health, new HealthCheckOptions
        {
            ResponseWriter = HealthReportJsonWriter.WriteAsync,
        });
        app.MapHealthChecks(HealthEndpointPaths.Alive, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(HealthCheckTags.Live),
            ResponseWriter = HealthReportJsonWriter.WriteAsync,
        });
        return app;
    }
}
