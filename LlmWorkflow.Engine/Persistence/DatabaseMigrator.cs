using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Engine.Persistence;

/// <summary>
/// Applies pending migrations at start-up. Several processes (API + N workers) start together, so the
/// migration runs under a Postgres advisory lock: the first process migrates, the others wait and find nothing to do.
/// </summary>
public sealed class DatabaseMigrator(LlmWorkflowDbContext db, ILogger<DatabaseMigrator> logger)
{
    // Arbitrary constant shared by every LlmWorkflow process: "LLMWF" in ASCII.
    private const long MigrationLockKey = 0x4C4C4D5746;

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
            {
                lockCommand.Parameters.AddWithValue("key", MigrationLockKey);
                await lockCommand.ExecuteNonQueryAsync(cancellationToken);
            }

            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            if (pending.Count > 0)
            {
                logger.LogInformation("Applying {Count} database migration(s): {Migrations}", pending.Count, string.Join(", ", pending));
                await db.Database.MigrateAsync(cancellationToken);
            }
        }
        finally
        {
            await using (var unlockCommand = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection))
            {
                unlockCommand.Parameters.AddWithValue("key", MigrationLockKey);
                await unlockCommand.ExecuteNonQueryAsync(CancellationToken.None);
            }

            await db.Database.CloseConnectionAsync();
        }
    }
}
