using LlmWorkflow.AppHost.Resources;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using LlmWorkflow.Pipeline.Persistence;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>Services started before PostgreSQL (as containers often are) wait for it instead of crashing.</summary>
public sealed class MigratorStartupTests
{
    [Fact]
    public async Task MigrationWaitsForPostgresToAcceptConnections()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-late-pg-").FullName;
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = folder, TradeDurabilityForSpeed = true });
        await using var db = MigrationContext.Create(postgres.ConnectionString);

        var migration = new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        Assert.False(migration.IsCompleted, "the migrator should still be waiting for PostgreSQL: " + migration.Exception);

        await postgres.StartAsync(ct);
        await migration.WaitAsync(TimeSpan.FromSeconds(60), ct);

        Assert.Empty(await db.Database.GetPendingMigrationsAsync(ct));
        await postgres.StopAsync(cancellationToken: ct);
        Directory.Delete(folder, recursive: true);
    }
}
