using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Webhooks;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Housekeeping, run on a schedule by the workers (<see cref="ScheduledMaintenance"/>) and on demand by the admin
/// API: failing stale jobs (with an error and their terminal webhook) and deleting finished jobs past their retention.
/// </summary>
public sealed class JobMaintenance(NpgsqlDataSource dataSource, WebhookOutbox webhooks, TimeProvider time)
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
        var stuck = await FailAsync(
            "status = 'processing' AND started_at < $1 AND (lease_expires_at IS NULL OR lease_expires_at < now())",
            now - processingThreshold, "processing_timeout",
            $"The job stopped making progress (no live worker held it for over {Describe(processingThreshold)}) and was marked stale.",
            processingThreshold, cancellationToken);
        var waiting = await FailAsync(
            "status IN ('pending', 'queued') AND created_at < $1",
            now - waitingThreshold, "never_started",
            $"The job waited over {Describe(waitingThreshold)} without starting and was marked stale.",
            waitingThreshold, cancellationToken);
        return new StaleCleanupResult(stuck, waiting);
    }

    /// <summary>
    /// Deletes completed, failed and cancelled jobs created before <paramref name="olderThan"/> ago (their steps, usage
    /// and webhook rows go with them), <paramref name="batchSize"/> rows per statement so no statement holds many locks.
    /// </summary>
    public async Task<RetentionResult> DeleteFinishedAsync(TimeSpan olderThan, CancellationToken cancellationToken, int batchSize = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var cutoff = time.GetUtcNow() - olderThan;
        var deleted = 0;
        var batches = 0;
        while (true)
        {
            await using var command = dataSource.CreateCommand("""
                DELETE FROM llm_workflow_jobs
                 WHERE id IN (SELECT id FROM llm_workflow_jobs
                               WHERE status IN ('completed', 'failed', 'cancelled') AND created_at < $1
                               LIMIT $2)
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = cutoff });
            command.Parameters.Add(new NpgsqlParameter { Value = batchSize });
            var count = await command.ExecuteNonQueryAsync(cancellationToken);
            deleted += count;
            batches++;
            if (count < batchSize)
            {
                return new RetentionResult(deleted, batches);
            }
        }
    }

    private async Task<int> FailAsync(string condition, DateTimeOffset cutoff, string reason, string message, TimeSpan threshold, CancellationToken cancellationToken)
    {
        var error = JobErrors.ToJson(new WorkflowError
        {
            Type = StaleErrorType,
            Category = ErrorCategory.SystemError,
            Message = message,
            Retryable = true,
            Details = new JsonObject { ["stale_reason"] = reason, ["threshold_seconds"] = threshold.TotalSeconds },
            Suggestions = ["Retry the job; check that workers are running and reading the dispatch streams."],
        });
        await using var command = dataSource.CreateCommand($"""
            UPDATE llm_workflow_jobs
               SET status = 'failed', is_stale = TRUE, stale_reason = $2, error_message = $3, error_data = $4,
                   completed_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
             WHERE {condition}
            RETURNING id, workflow_name, webhook_url IS NOT NULL
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = cutoff });
        command.Parameters.Add(new NpgsqlParameter { Value = reason });
        command.Parameters.Add(new NpgsqlParameter { Value = message });
        command.Parameters.Add(new NpgsqlParameter { Value = error.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        var failed = new List<(Guid Id, string Workflow, bool HasWebhook)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                failed.Add((reader.GetGuid(0), reader.GetString(1), reader.GetBoolean(2)));
            }
        }

        foreach (var job in failed)
        {
            Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", job.Workflow), new KeyValuePair<string, object?>("status", "failed"));
            if (job.HasWebhook)
            {
                await webhooks.EnqueueTerminalAsync(job.Id, CancellationToken.None);
            }
        }

        return failed.Count;
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
