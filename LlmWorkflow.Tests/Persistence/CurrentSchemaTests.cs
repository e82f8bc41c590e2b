using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// A worker started on a schema that is already current reads the migration history with plain SQL and leaves EF
/// Core alone (its model and migrator would stay resident in the process); on a schema that lacks a migration it
/// migrates through EF Core as before. <see cref="DatabaseMigrator.IsCurrentAsync"/> decides, against real PostgreSQL.
/// </summary>
[IntegrationTest]
public sealed class CurrentSchemaTests(TestServers servers)
{
    private const string EntityFrameworkStarted = "initialized 'LlmWorkflowDbContext'";

    [Fact]
    public async Task TheNewestMigrationIsTheLastOneEntityFrameworkApplies()
    {
        await using var db = MigrationContext.Create("Host=unused");

        Assert.Equal(DatabaseMigrator.NewestMigration, db.Database.GetMigrations().Last());
    }

    [Fact]
    public async Task TheSchemaIsCurrentOnlyWhenTheNewestMigrationIsRecorded()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(TheSchemaIsCurrentOnlyWhenTheNewestMigrationIsRecorded));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        Assert.False(await DatabaseMigrator.IsCurrentAsync(dataSource, ct), "a database with no history table");

        await using (var db = MigrationContext.Create(connectionString))
        {
            await new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);
        }

        Assert.True(await DatabaseMigrator.IsCurrentAsync(dataSource, ct), "a migrated database");

        await ForgetNewestMigrationAsync(connectionString, ct);
        Assert.False(await DatabaseMigrator.IsCurrentAsync(dataSource, ct), "a database without the newest migration");

        // Nothing listens on port 1: the migrator, not this check, waits for PostgreSQL.
        await using var unreachable = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=none;Timeout=2");
        Assert.False(await DatabaseMigrator.IsCurrentAsync(unreachable, ct));
    }

    [Fact]
    public async Task AWorkerMigratesAFreshDatabaseAndLeavesEntityFrameworkAloneOnACurrentOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(CurrentSchemaTests), migrated: false);
        var settings = environment.Settings(new Dictionary<string, string?> { ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Debug" });

        // A fresh database: the first worker migrates it through EF Core, which says it started.
        var first = new CapturingLoggerProvider();
        await using (await WorkerHost.StartAsync(settings, ct, first))
        {
            Assert.Contains(first.Lines, line => line.Message.Contains(EntityFrameworkStarted, StringComparison.Ordinal));
        }

        Assert.True(await TestSql.ScalarAsync(
            environment.PostgresConnectionString, "SELECT EXISTS (SELECT FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = @id)", ct, ("id", DatabaseMigrator.NewestMigration)) is true);

        // The schema is current: the next worker starts without EF Core.
        var second = new CapturingLoggerProvider();
        await using (await WorkerHost.StartAsync(settings, ct, second))
        {
            Assert.DoesNotContain(second.Lines, line => line.Category.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal));
        }
    }

    /// <summary>Removes the newest migration's row from the history, as if it had never been applied.</summary>
    private static Task ForgetNewestMigrationAsync(string connectionString, CancellationToken ct) =>
        TestSql.ExecuteAsync(
            connectionString,
            "DELETE FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = @id",
            ct,
            ("id", DatabaseMigrator.NewestMigration));
}
