using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The workers' scheduled maintenance: stale-job cleanup, the usage rollup of closed hours, then retention (finished jobs, then
/// the usage retention's whole months of LLM calls). Every worker checks regularly; a Postgres
/// advisory lock lets one run at a time, and the last run recorded in <c>llm_maintenance_runs</c> tells the others
/// that the work is done for this interval.
/// </summary>
public sealed partial class ScheduledMaintenance(
    NpgsqlDataSource dataSource,
    IServiceScopeFactory scopes,
    TimeProvider time,
    IOptions<MaintenanceOptions> options,
    ILogger<ScheduledMaintenance> logger)
{
    public const string StaleCleanupTask = "stale_cleanup";
    public const string RetentionTask = "retention";
    public const string UsageRollupTask = "usage_rollup";

    // Arbitrary constant shared by every worker: "LLMWFMNT" in ASCII.
    private const long LockKey = 0x4C4C4D57464D4E54;

    // $1 lock key (bigint).
    private const string TryLockSql = "SELECT pg_try_advisory_lock($1)";

    // $1 lock key (bigint).
    private const string UnlockSql = "SELECT pg_advisory_unlock($1)";

    // $1 task.
    private const string LastFinishedSql = "SELECT finished_at FROM llm_maintenance_runs WHERE task = $1";

    // No parameters.
    private const string LastRunsSql =
        "SELECT task, runner, started_at, finished_at, affected, details::text AS details, error FROM llm_maintenance_runs ORDER BY task";

    // $1 task, $2 runner, $3 started at, $4 finished at, $5 affected, $6 details (jsonb or NULL), $7 error (or NULL).
    private const string RecordRunSql = """
        INSERT INTO llm_maintenance_runs (task, runner, started_at, finished_at, affected, details, error)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (task) DO UPDATE SET runner = EXCLUDED.runner, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
                                         affected = EXCLUDED.affected, details = EXCLUDED.details, error = EXCLUDED.error
        """;

    /// <summary>Runs maintenance if it is due and no other worker is running it; returns whether this call ran it.</summary>
    public async Task<bool> RunIfDueAsync(string runner, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        // The lock belongs to this session: it is held on one connection for the whole run.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await TryLockAsync(connection, cancellationToken))
        {
            return false;
        }

        try
        {
            var last = await LastFinishedAtAsync(connection, cancellationToken);
            if (last is { } finished && time.GetUtcNow() - finished < settings.Interval)
            {
                return false;
            }

            await using var scope = scopes.CreateAsyncScope();
            var maintenance = scope.ServiceProvider.GetRequiredService<JobMaintenance>();
            await RunTaskAsync(connection, StaleCleanupTask, runner, async () =>
            {
                var stale = await maintenance.CleanupStaleAsync(settings.StaleProcessingAfter, settings.StaleWaitingAfter, cancellationToken);
                return (stale.Total, new JsonObject
                {
                    ["processing_timeout"] = stale.Processing,
                    ["never_started"] = stale.Waiting,
                    ["stale_processing_after_seconds"] = settings.StaleProcessingAfter.TotalSeconds,
                    ["stale_waiting_after_seconds"] = settings.StaleWaitingAfter.TotalSeconds,
                });
            }, cancellationToken);
            await RunTaskAsync(connection, UsageRollupTask, runner, async () =>
            {
                var rollup = scope.ServiceProvider.GetRequiredService<UsageRollup>();
                var hours = await rollup.RollUpAsync(cancellationToken);
                return (hours, new JsonObject { ["rolled_until"] = (await rollup.RolledUntilAsync(cancellationToken))?.ToString("O", System.Globalization.CultureInfo.InvariantCulture) });
            }, cancellationToken);
            await RunTaskAsync(connection, RetentionTask, runner, async () =>
            {
                var retention = await maintenance.DeleteFinishedAsync(settings.Retention, cancellationToken, settings.DeleteBatchSize);
                var usagePurged = await scope.ServiceProvider.GetRequiredService<UsageRollup>()
                    .PurgeBeforeAsync(time.GetUtcNow() - settings.UsageRetention, settings.DeleteBatchSize, cancellationToken);
                var details = new JsonObject
                {
                    ["batches"] = retention.Batches,
                    ["retention_seconds"] = settings.Retention.TotalSeconds,
                    ["usage_calls_purged"] = usagePurged,
                    ["usage_retention_seconds"] = settings.UsageRetention.TotalSeconds,
                };
                foreach (var purge in scope.ServiceProvider.GetServices<IRetentionPurge>())
                {
                    details[purge.DetailName] = await purge.PurgeBeforeAsync(time.GetUtcNow() - settings.Retention, settings.DeleteBatchSize, cancellationToken);
                }

                return (retention.Deleted, details);
            }, cancellationToken);
            return true;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand(UnlockSql, connection);
            unlock.Parameters.Add(new NpgsqlParameter { Value = LockKey });
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>The last run of each task, for the admin API and the dashboard.</summary>
    public async Task<IReadOnlyList<MaintenanceRun>> LastRunsAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(LastRunsSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var runs = new List<MaintenanceRun>();
        while (await reader.ReadAsync(cancellationToken))
        {
            runs.Add(new MaintenanceRun(
                reader.Field<string>("task"), reader.Field<string>("runner"), reader.Field<DateTimeOffset>("started_at"),
                reader.Field<DateTimeOffset>("finished_at"), reader.Field<int>("affected"),
                reader.FieldOrNull<string>("details") is { } details ? JsonNode.Parse(details)?.AsObject() : null, reader.FieldOrNull<string>("error")));
        }

        return runs;
    }

    private async Task RunTaskAsync(NpgsqlConnection connection, string task, string runner, Func<Task<(int Affected, JsonObject Details)>> work, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        int affected = 0;
        JsonObject? details = null;
        string? error = null;
        try
        {
            (affected, details) = await work();
            LogTaskRan(task, affected);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            error = ex.Message;
            LogTaskFailed(ex, task);
        }

        await using var command = new NpgsqlCommand(RecordRunSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = task });
        command.Parameters.Add(new NpgsqlParameter { Value = runner });
        command.Parameters.Add(new NpgsqlParameter { Value = started });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = affected });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)details?.ToJsonString() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(TryLockSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = LockKey });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>When the last complete run ended (the retention task is the last one of a run).</summary>
    private static async Task<DateTimeOffset?> LastFinishedAtAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(LastFinishedSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = RetentionTask });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.Field<DateTimeOffset>("finished_at") : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Maintenance {Task}: {Affected} job(s)")]
    private partial void LogTaskRan(string task, int affected);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Maintenance {Task} failed")]
    private partial void LogTaskFailed(Exception ex, string task);
}
