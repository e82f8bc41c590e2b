using LlmWorkflow.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// The migrations are hand-written SQL (no EF design-time package here), so this guards the EF model against drift:
/// every mapped column exists with a compatible type, every mapped index exists, and Down removes everything.
/// </summary>
[IntegrationTest]
public sealed class SchemaMatchesModelTests(TestServers servers)
{
    [Fact]
    public async Task EveryMappedColumnAndIndexExistsAfterMigration()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(EveryMappedColumnAndIndexExistsAfterMigration));
        await using var db = MigrationContext.Create(connectionString);
        await new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);

        var columns = await QueryAsync(connectionString,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'", ct);
        var indexes = (await QueryAsync(connectionString, "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public'", ct)).Keys;

        var missing = new List<string>();
        foreach (var entity in db.Model.GetEntityTypes())
        {
            var table = entity.GetTableName()!;
            foreach (var property in entity.GetProperties())
            {
                var column = property.GetColumnName();
                if (!columns.TryGetValue($"{table}.{column}", out var dataType))
                {
                    missing.Add($"column {table}.{column}");
                    continue;
                }

                var expected = property.GetColumnType();
                if (!TypesCompatible(expected, dataType))
                {
                    missing.Add($"column {table}.{column}: model says {expected}, database has {dataType}");
                }
            }

            foreach (var index in entity.GetIndexes())
            {
                if (!indexes.Contains(index.GetDatabaseName()!))
                {
                    missing.Add($"index {index.GetDatabaseName()} on {table}");
                }
            }
        }

        Assert.Empty(missing);
    }

    [Fact]
    public async Task DownMigrationDropsEveryTable()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(DownMigrationDropsEveryTable));
        await using var db = MigrationContext.Create(connectionString);
        await new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);

        var migrator = db.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>();
        await migrator.MigrateAsync("0", cancellationToken: ct);

        var tables = await QueryAsync(connectionString,
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__EFMigrationsHistory'", ct);
        Assert.Empty(tables);
    }

    [Fact]
    public async Task ConcurrentStartupsMigrateOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(ConcurrentStartupsMigrateOnce));
        var contexts = Enumerable.Range(0, 4).Select(_ => MigrationContext.Create(connectionString)).ToArray();
        try
        {
            await Task.WhenAll(contexts.Select(db => new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct)));
        }
        finally
        {
            foreach (var db in contexts)
            {
                await db.DisposeAsync();
            }
        }

        var history = await QueryAsync(connectionString, "SELECT \"MigrationId\", \"ProductVersion\" FROM \"__EFMigrationsHistory\"", ct);
        await using var model = MigrationContext.Create(connectionString);
        // Each migration recorded once (a second migrator would have failed on the existing tables).
        Assert.Equal(model.Database.GetMigrations().Order(), history.Keys.Order());
    }

    private static bool TypesCompatible(string? model, string database)
    {
        var m = (model ?? "").ToLowerInvariant();
        return m switch
        {
            _ when m.StartsWith("character varying", StringComparison.Ordinal) => database == "character varying",
            _ when m.StartsWith("character(", StringComparison.Ordinal) => database == "character",
            _ when m.StartsWith("numeric", StringComparison.Ordinal) => database == "numeric",
            "timestamp with time zone" => database == "timestamp with time zone",
            "text[]" => database == "ARRAY",
            _ => m == database,
        };
    }

    private static async Task<Dictionary<string, string>> QueryAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new Dictionary<string, string>();
        while (await reader.ReadAsync(ct))
        {
            rows[reader.GetString(0)] = reader.GetString(1);
        }

        return rows;
    }
}
