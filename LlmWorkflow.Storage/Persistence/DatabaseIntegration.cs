using Microsoft.Extensions.Hosting;

namespace LlmWorkflow.Storage.Persistence;

/// <summary>Aspire's Npgsql EF Core client integration on the service's database.</summary>
public static class DatabaseIntegration
{
    /// <summary>
    /// Enriches the <see cref="LlmWorkflowDbContext"/> that <c>AddLlmWorkflowCore</c> pools over the shared, tuned data
    /// source (<c>PostgresDataSource.Create</c>, <c>ConnectionStrings:postgres</c>) with Npgsql's tracing and metrics and, where
    /// <paramref name="retryTransientFailures"/> says so, EF Core's retrying execution strategy. Aspire's DbContext
    /// health check stays off: the health contract names the database check <c>database</c> (a <c>SELECT 1</c> on the
    /// same data source), and a worker must not build EF's model just to answer a probe. Settings:
    /// <c>Aspire:Npgsql:EntityFrameworkCore:PostgreSQL</c>.
    /// </summary>
    /// <param name="retryTransientFailures">
    /// False for the API: a request must fail fast with 503 and Retry-After while PostgreSQL is unreachable (the
    /// caller retries), not sit through EF's six retries (about a minute). The worker keeps them: its work is in the
    /// background, and what it cannot write it holds (docs/JOB_LIFECYCLE.md).
    /// </param>
    public static TBuilder EnrichLlmWorkflowDatabase<TBuilder>(this TBuilder builder, bool retryTransientFailures)
        where TBuilder : IHostApplicationBuilder
    {
        builder.EnrichNpgsqlDbContext<LlmWorkflowDbContext>(settings =>
        {
            settings.DisableHealthChecks = true;
            settings.DisableRetry = !retryTransientFailures;
        });
        return builder;
    }
}
