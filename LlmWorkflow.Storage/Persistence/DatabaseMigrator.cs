using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Storage.Persistence;

/// <summary>
/// Applies pending migrations at start-up. Several processes (API + N workers) start together, so the
/// migration runs under a Postgres advisory lock: the first process migrates, the others wait and find nothing to do.
/// </summary>
public sealed class DatabaseMigrator(LlmWorkflowDbContext db, ILogger<DatabaseMigrator> logger)
{
    // Arbitrary constant shared by every LlmWorkflow process: "LLMWF" in ASCII.
    private const long MigrationLockKey = 0x4C4C4D5746;

    /// <summary>How long start-up waits for PostgreSQL to accept connections (containers often start before it).</summary>
    public static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The newest migration this build carries: the schema it expects. Written out, not found by reflection, so the
    /// check below loads none of the migrations' types (nor EF Core with them); <c>CurrentSchemaTests</c> fails when a
    /// new migration is added and this is not updated.
    /// </summary>
    public const string NewestMigration = "20261129100000_FewerJobIndexes";

    /// <summary>
    /// Whether <see cref="NewestMigration"/> is recorded as applied (EF applies migrations in order, so then every one
    /// is), read with plain SQL. A process whose own code uses no EF Core (the worker) asks this first: when another
    /// process has already migrated, it never builds EF's model and migrator, whose code would stay resident for the
    /// life of the process. False when the history table is missing, the newest migration is pending or PostgreSQL
    /// cannot be reached: <see cref="MigrateAsync"/> then does the rest.
    /// </summary>
    public static async Task<bool> IsCurrentAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("""SELECT to_regclass('"__EFMigrationsHistory"') IS NOT NULL""", connection);
            if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return false;
            }

            await using var applied = new NpgsqlCommand("""SELECT EXISTS (SELECT FROM "__EFMigrationsHistory" WHERE "MigrationId" = $1)""", connection);
            applied.Parameters.Add(new NpgsqlParameter { Value = NewestMigration });
            return await applied.ExecuteScalarAsync(cancellationToken) is true;
        }
        catch (NpgsqlException ex) when (Unreachable(ex) is not null)
        {
            return false;
        }
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + StartupWait;
        for (var delay = TimeSpan.FromMilliseconds(250); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks)))
        {
            try
            {
                await MigrateOnceAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (Unreachable(ex) is { } cause && DateTimeOffset.UtcNow + delay < deadline)
            {
                logger.LogWarning("PostgreSQL is not reachable yet ({Message}); retrying in {Delay} ms", cause.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    /// <summary>
    /// The failure to reach PostgreSQL behind an exception (EF wraps it as a transient failure): no connection, or a
    /// server that answers but does not take sessions yet (<c>57P03</c>, "the database system is starting up", while
    /// it replays its log after a start). Null for every other server-side error.
    /// </summary>
    private static NpgsqlException? Unreachable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow } starting)
            {
                return starting;
            }

            if (current is NpgsqlException npgsql and not PostgresException)
            {
                return npgsql;
            }
        }

        return null;
    }

    private async Task MigrateOnceAsync(CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var timeout = db.Database.GetCommandTimeout();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            // No command timeout while migrating: building an index on a table of millions of jobs takes minutes, and
            // so does waiting here for another process that is doing it.
            db.Database.SetCommandTimeout(0);
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection) { CommandTimeout = 0 })
            {
                lockCommand.Parameters.AddWithValue("key", MigrationLockKey);
                await lockCommand.ExecuteNonQueryAsync(cancellationToken);
            }

            // On a fresh database EF would query the missing history table and log that failure at error level,
            // which a newcomer cannot tell from a real fault; creating the (empty) table first avoids it.
            await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
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

            db.Database.SetCommandTimeout(timeout);
            await db.Database.CloseConnectionAsync();
        }
    }
}
