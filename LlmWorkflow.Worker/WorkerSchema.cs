using LlmWorkflow.Storage.Persistence;
using Npgsql;

namespace LlmWorkflow.Worker;

/// <summary>The schema check a worker makes before it starts (Program and the in-process test host call it).</summary>
public static class WorkerSchema
{
    public static async Task MigrateDatabaseAsync(this IHost host)
    {
        // The worker's own code uses no EF Core. When the schema is current (the API or another worker migrated it),
        // EF's model and migrator are never built, and their code never joins the worker's resident memory (about
        // 16 MB of its peak under 500 concurrent jobs).
        if (await DatabaseMigrator.IsCurrentAsync(host.Services.GetRequiredService<NpgsqlDataSource>(), CancellationToken.None))
        {
            return;
        }

        await using var scope = host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(CancellationToken.None);
    }
}
