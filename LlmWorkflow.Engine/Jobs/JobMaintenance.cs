using LlmWorkflow.Engine.Persistence;
using LlmWorkflow.Engine.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Housekeeping the admin API (and operators) trigger: marking stuck jobs stale and failing them, and deleting
/// finished jobs past their retention.
/// </summary>
public sealed class JobMaintenance(LlmWorkflowDbContext db, NpgsqlDataSource dataSource, IOptions<WebhookOptions> webhookOptions, TimeProvider time)
{
    /// <summary>
    /// Fails jobs stuck in processing longer than <paramref name="processingThreshold"/> with an expired lease, and
    /// pending/queued jobs older than <paramref name="waitingThreshold"/> (72 h by default, as the documents say).
    /// Their terminal webhook events are recorded by the same statement. Rows another transaction holds are skipped
    /// (a worker finishing them right now), never waited for.
    /// </summary>
    public async Task<int> CleanupStaleAsync(TimeSpan processingThreshold, TimeSpan waitingThreshold, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(CleanupStaleSql(webhookOptions.Value.MaxPayloadBytes));
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = now - processingThreshold });
        command.Parameters.Add(new NpgsqlParameter { Value = now - waitingThreshold });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string CleanupStaleSql(int maxPayloadBytes) => $"""
        WITH job AS (
            SELECT id, workflow_name, 'failed'::text AS status, user_id, username, action, attempt, webhook_url,
                   result_data, error_data, duration_ms, total_tokens, cost_usd,
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
           SET status = job.status, is_stale = TRUE, stale_reason = job.stale_reason,
               error_message = CASE WHEN job.stale_reason = 'processing_timeout'
                                    THEN 'The job stopped making progress (no live worker held it) and was marked stale.'
                                    ELSE 'The job waited too long without starting and was marked stale.' END,
               completed_at = $1, lease_owner = NULL, updated_at = $1
          FROM job
         WHERE j.id = job.id
        """;

    /// <summary>Deletes completed, failed and cancelled jobs older than <paramref name="olderThan"/> (with their rows).</summary>
    public Task<int> DeleteFinishedAsync(TimeSpan olderThan, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - olderThan;
        return db.Jobs
            .Where(j => (j.Status == JobStatus.Completed || j.Status == JobStatus.Failed || j.Status == JobStatus.Cancelled) && j.CreatedAt < cutoff)
            .ExecuteDeleteAsync(cancellationToken);
    }
}
