using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Npgsql;
using NpgsqlTypes;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine;
using LlmWorkflow.Pipeline.Webhooks;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Housekeeping, run on a schedule by the workers (<see cref="ScheduledMaintenance"/>) and on demand by the admin
/// API: failing stale jobs (with an error and their terminal webhook) and deleting finished jobs past their retention.
/// </summary>
public sealed class JobMaintenance(NpgsqlDataSource dataSource, IOptions<WebhookOptions> webhookOptions, TimeProvider time)
{
    /// <summary>The error type a stale job fails with.</summary>
    public const string StaleErrorType = "stale_job";

    /// <summary>
    /// Fails jobs stuck in processing longer than <paramref name="processingThreshold"/> with an expired lease, and
    /// pending/queued jobs older than <paramref name="waitingThreshold"/> (72 h by default, as the documents say).
    /// Each gets <c>is_stale</c>, a <c>stale_reason</c>, an error, and its <c>workflow.failed</c> webhook.
    /// </summary>
    public async Task<StaleCleanupResult> CleanupStaleAsync(TimeSpan processingThreshold, TimeSpan waitingThreshold, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var processingMessage = $"The job stopped making progress (no live worker held it for over {Describe(processingThreshold)}) and was marked stale.";
        var waitingMessage = $"The job waited over {Describe(waitingThreshold)} without starting and was marked stale.";
        await using var command = dataSource.CreateCommand(CleanupStaleSql(webhookOptions.Value.MaxPayloadBytes));
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = now - processingThreshold });
        command.Parameters.Add(new NpgsqlParameter { Value = now - waitingThreshold });
        command.Parameters.Add(new NpgsqlParameter { Value = processingMessage });
        command.Parameters.Add(new NpgsqlParameter { Value = waitingMessage });
        command.Parameters.Add(Jsonb(StaleError("processing_timeout", processingMessage, processingThreshold)));
        command.Parameters.Add(Jsonb(StaleError("never_started", waitingMessage, waitingThreshold)));
        int processing = 0, waiting = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _ = reader.GetString(0) == "processing_timeout" ? processing++ : waiting++;
            Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", reader.GetString(1)), new KeyValuePair<string, object?>("status", "failed"));
        }

        return new StaleCleanupResult(processing, waiting);
    }

    /// <summary>
    /// One statement: claims the stale rows (skipping any another transaction holds, e.g. a worker finishing it now),
    /// records their terminal webhook events with the stale error, and fails them.
    /// </summary>
    private static string CleanupStaleSql(int maxPayloadBytes) => $"""
        WITH job AS (
            SELECT id, workflow_name, 'failed'::text AS status, user_id, username, action, attempt, webhook_url,
                   result_data, CASE WHEN status = 'processing' THEN $6::jsonb ELSE $7::jsonb END AS error_data,
                   duration_ms, total_tokens, cost_usd,
                   CASE WHEN status = 'processing' THEN 'processing_timeout' ELSE 'never_started' END AS stale_reason
              FROM llm_workflow_jobs
             WHERE {JobLifecycle.Guard(JobTransition.StaleCleanup)}
               AND ((status = 'processing' AND started_at < $2 AND (lease_expires_at IS NULL OR lease_expires_at < $1))
                    OR (status IN ('pending', 'queued') AND created_at < $3))
               FOR UPDATE SKIP LOCKED
        ), outbox AS (
            {WebhookOutbox.TerminalEventsSql("job", maxPayloadBytes)}
        )
        UPDATE llm_workflow_jobs j
           SET status = job.status, is_stale = TRUE, stale_reason = job.stale_reason, error_data = job.error_data,
               error_message = CASE WHEN job.stale_reason = 'processing_timeout' THEN $4 ELSE $5 END,
               completed_at = $1, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
          FROM job
         WHERE j.id = job.id
        RETURNING job.stale_reason, job.workflow_name
        """;

    private static JsonObject StaleError(string reason, string message, TimeSpan threshold) => JobErrors.ToJson(new WorkflowError
    {
        Type = StaleErrorType,
        Category = ErrorCategory.SystemError,
        Message = message,
        Retryable = true,
        Details = new JsonObject { ["stale_reason"] = reason, ["threshold_seconds"] = threshold.TotalSeconds },
        Suggestions = ["Retry the job; check that workers are running and reading the dispatch streams."],
    });

    private static NpgsqlParameter Jsonb(JsonNode node) => new() { Value = node.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb };

    /// <summary>
    /// Deletes completed, failed and cancelled jobs created before <paramref name="olderThan"/> ago (their steps, usage
    /// and webhook rows go with them; so do tombstones of jobs deleted before then), <paramref name="batchSize"/> rows per statement and transaction so no statement
    /// holds many locks or stalls the workers' writes.
    /// </summary>
    public async Task<RetentionResult> DeleteFinishedAsync(TimeSpan olderThan, CancellationToken cancellationToken, int batchSize = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var cutoff = time.GetUtcNow() - olderThan;
        var deleted = 0;
        var batches = 0;
        // Oldest first, each batch starting where the last one ended: a batch never walks again over the index
        // entries of rows the batches before it deleted (they stay in the index until vacuum).
        var from = DateTimeOffset.MinValue;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        while (true)
        {
            // One transaction per batch. Its joins are probes of primary keys (a thousand jobs, their calls, their
            // rollup rows): with hash joins the planner scanned and hashed the whole rollup tables on every batch
            // (~1 s of CPU per batch at 10 M jobs).
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // The usage rollup loses the deleted jobs' calls in the same statement (UsageRollup.SubtractDeletedJobsSql);
            // the plan's settings go in the same round trip.
            await using var command = TransactionSettings.Batch(connection, transaction,
                [TransactionSettings.NoJit, .. TransactionSettings.NoHashOrMergeJoins], $"""
                WITH doomed AS (
                    DELETE FROM llm_workflow_jobs
                     WHERE id IN (SELECT id FROM llm_workflow_jobs
                                   WHERE created_at >= $3 AND created_at < $1 AND status IN ('completed', 'failed', 'cancelled')
                                   ORDER BY created_at
                                   LIMIT $2)
                       -- Re-checked on the row itself: a job retried meanwhile is not finished any more.
                       AND status IN ('completed', 'failed', 'cancelled')
                    RETURNING id, created_at, tenant_id, workflow_name, user_id, username),
                attempts AS (DELETE FROM llm_webhook_attempts WHERE job_id IN (SELECT id FROM doomed)),
                {UsageRollup.SubtractDeletedJobsSql("doomed")}
                SELECT count(*), max(created_at) FROM doomed
                """, cutoff, batchSize, from);
            int count;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                count = (int)reader.GetInt64(0);
                from = count > 0 ? reader.GetFieldValue<DateTimeOffset>(1) : from;
            }

            await transaction.CommitAsync(cancellationToken);
            deleted += count;
            batches++;
            if (count < batchSize)
            {
                await PurgeTombstonesAsync(connection, cutoff, cancellationToken);
                return new RetentionResult(deleted, batches);
            }
        }
    }

    /// <summary>
    /// Tombstones of jobs deleted before the cutoff go with the retention period (their status URL then answers 404),
    /// and so do the webhook attempts that outlived those jobs.
    /// </summary>
    private static async Task PurgeTombstonesAsync(NpgsqlConnection connection, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var purge = new NpgsqlCommand("""
            WITH purged AS (DELETE FROM llm_deleted_jobs WHERE deleted_at < $1 RETURNING job_id)
            DELETE FROM llm_webhook_attempts WHERE job_id IN (SELECT job_id FROM purged)
            """, connection);
        purge.Parameters.Add(new NpgsqlParameter { Value = cutoff });
        await purge.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Describe(TimeSpan span) => span.TotalHours >= 1 && span.TotalHours == Math.Floor(span.TotalHours)
        ? $"{span.TotalHours:0} h"
        : $"{span.TotalMinutes:0.#} min";
}

/// <summary>How many jobs a stale cleanup failed: stuck in processing, and never started.</summary>
public sealed record StaleCleanupResult(int Processing, int Waiting)
{
    public int Total => Processing + Waiting;
}

/// <summary>How many finished jobs a retention run deleted, in how many statements.</summary>
public sealed record RetentionResult(int Deleted, int Batches);
