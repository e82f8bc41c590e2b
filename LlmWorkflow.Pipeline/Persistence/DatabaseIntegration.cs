using Microsoft.Extensions.Hosting;

namespace LlmWorkflow.Pipeline.Persistence;

/// <summary>Aspire's Npgsql EF Core client integration on the service's database.</summary>
public static class DatabaseIntegration
{
    /// <summary>
    /// Enriches the <see cref="LlmWorkflowDbContext"/> that <c>AddLlmWorkflowCore</c> pools over the shared, tuned data
    /// source (<c>CreateDataSource</c>, <c>ConnectionStrings:postgres</c>): EF Core's retrying execution strategy, and
    /// Npgsql's tracing and metrics. Aspire's DbContext health check stays off: the health contract names the
    /// database check <c>database</c> (a <c>SELECT 1</c> on the same data source), and a worker must not build EF's
    /// model just to answer a probe. Settings: <c>Aspire:Npgsql:EntityFrameworkCore:PostgreSQL</c>.
    /// </summary>
    public static TBuilder EnrichLlmWorkflowDatabase<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.EnrichNpgsqlDbContext<LlmWorkflowDbContext>(settings => settings.DisableHealthChecks = true);
        return builder;
    }
}
