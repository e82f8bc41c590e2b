using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using LlmWorkflow.Engine;
using LlmWorkflow.Pipeline.Persistence;
using LlmWorkflow.Pipeline.Webhooks;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>What happened to a cancel request.</summary>
public enum CancelOutcome
{
    NotFound,

    /// <summary>The job had already finished; nothing changed.</summary>
    AlreadyFinished,

    /// <summary>The job was waiting and is now cancelled.</summary>
    Cancelled,

    /// <summary>The job is running; its worker stops it at once, and it ends cancelled whatever its run does meanwhile.</summary>
    CancelRequested,
}

/// <summary>What happened to a retry request.</summary>
public enum RetryOutcome
{
    NotFound,

    /// <summary>Only failed and cancelled jobs can be retried.</summary>
    NotRetryable,

    Requeued,
}

/// <summary>
/// Operator and caller actions on existing jobs: cancel, bulk delete, retry. Running jobs are stopped through
/// Postgres (the job's worker watches for cancel requests and deleted rows), so no worker address is needed.
/// </summary>
public sealed class JobCommands(
    LlmWorkflowDbContext db,
    NpgsqlDataSource dataSource,
    JobQueue queue,
    JobEventStream events,
    IOptions<WebhookOptions> webhookOptions,
    TimeProvider time,
    ILogger<JobCommands> logger)
{
    public async Task<CancelOutcome> CancelAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        int waiting;
        await using (var cancel = dataSource.CreateCommand(CancelWaitingSql(webhookOptions.Value.MaxPayloadBytes)))
        {
            cancel.Parameters.Add(new NpgsqlParameter { Value = jobId });
            cancel.Parameters.Add(new NpgsqlParameter { Value = now });
            waiting = await cancel.ExecuteNonQueryAsync(cancellationToken);
        }

        if (waiting == 1)
        {
            var workflow = await db.Jobs.Where(j => j.Id == jobId).Select(j => j.WorkflowName).FirstOrDefaultAsync(cancellationToken);
            Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", workflow), new KeyValuePair<string, object?>("status", "cancelled"));
            await PublishCancelledAsync(jobId);
            return CancelOutcome.Cancelled;
        }

        int running;
        await using (var request = dataSource.CreateCommand(RequestCancelSql))
        {
            request.Parameters.Add(new NpgsqlParameter { Value = jobId });
            request.Parameters.Add(new NpgsqlParameter { Value = now });
            running = await request.ExecuteNonQueryAsync(cancellationToken);
        }

        if (running == 1)
        {
            // From this commit on the job ends cancelled: its worker's finish stores "cancelled" whatever the run's
            // outcome, and checks before each paid step. The notice only makes the worker stop at once.
            try
            {
                await queue.AnnounceCancelAsync(jobId);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                logger.LogWarning(ex, "Could not announce the cancel of job {JobId}; its worker sees it at its next poll", jobId);
            }

            return CancelOutcome.CancelRequested;
        }

        return await db.Jobs.AnyAsync(j => j.Id == jobId, cancellationToken) ? CancelOutcome.AlreadyFinished : CancelOutcome.NotFound;
    }

    /// <summary>How long a delete waits for the workers of running jobs to record their cancel before deleting them.</summary>
    public static readonly TimeSpan CancelBeforeDeleteWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Deletes jobs (with their steps, usage and delivered webhook rows) and leaves a tombstone of each, so its status
    /// URL answers 410 Gone until retention purges it. A waiting or running job is cancelled first, through
    /// <see cref="CancelAsync"/>, so the caller hears of it by its <c>workflow.cancelled</c> webhook, which outlives
    /// the job (signed with the tombstone's secret); a running job whose worker has not recorded the cancel within
    /// <see cref="CancelBeforeDeleteWait"/> gets that event from the delete itself.
    /// </summary>
    /// <param name="tenantId">Only this tenant's jobs (null: any tenant, for admins).</param>
    /// <param name="userId">Only this user's jobs (null: any user of the tenant).</param>
    public async Task<IReadOnlyList<Guid>> DeleteAsync(IReadOnlyCollection<Guid> jobIds, string? tenantId, string? userId, CancellationToken cancellationToken)
    {
        var query = db.Jobs.Where(j => jobIds.Contains(j.Id));
        if (tenantId is not null)
        {
            query = query.Where(j => j.TenantId == tenantId);
        }

        if (userId is not null)
        {
            query = query.Where(j => j.UserId == userId);
        }

        var existing = await query.Select(j => new { j.Id, j.Status }).ToListAsync(cancellationToken);
        if (existing.Count == 0)
        {
            return [];
        }

        var running = new List<Guid>();
        foreach (var job in existing.Where(j => !j.Status.IsTerminal()))
        {
            if (await CancelAsync(job.Id, cancellationToken) == CancelOutcome.CancelRequested)
            {
                running.Add(job.Id);
            }
        }

        await WaitUntilFinishedAsync(running, cancellationToken);
        var ids = existing.Select(j => j.Id).ToArray();
        // One statement: the jobs (their steps and usage rows by cascade), their tombstones, their settled webhook
        // attempts, the cancelled events of jobs still unfinished, and their calls' share of the usage rollup. In a
        // transaction of its own for the setting, sent with it in one round trip (Npgsql adds the BEGIN).
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using var delete = TransactionSettings.Batch(connection, transaction, [TransactionSettings.NoJit],
                DeleteSql(webhookOptions.Value.MaxPayloadBytes), ids, time.GetUtcNow());
            await delete.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        foreach (var id in ids)
        {
            await PublishCancelledAsync(id);
        }

        return ids;
    }

    /// <summary>Waits (bounded) until the workers of these jobs have recorded their cancel, so their own event is the one sent.</summary>
    private async Task WaitUntilFinishedAsync(List<Guid> jobIds, CancellationToken cancellationToken)
    {
        var unfinished = JobLifecycle.From(JobTransition.RequestCancel);
        for (var deadline = time.GetUtcNow() + CancelBeforeDeleteWait; jobIds.Count > 0 && time.GetUtcNow() < deadline;)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
            var still = await db.Jobs.Where(j => jobIds.Contains(j.Id) && unfinished.Contains(j.Status)).Select(j => j.Id).ToListAsync(cancellationToken);
            jobIds.RemoveAll(id => !still.Contains(id));
        }
    }

    private static string DeleteSql(int maxPayloadBytes) => $"""
        WITH doomed AS (
            DELETE FROM llm_workflow_jobs WHERE id = ANY($1)
            RETURNING id, tenant_id, workflow_name, status, user_id, username, action, attempt, webhook_url, webhook_secret,
                      result_data, error_data, duration_ms, total_tokens, cost_usd),
        unfinished AS (
            SELECT id, workflow_name, 'cancelled'::text AS status, user_id, username, action, attempt, webhook_url,
                   result_data, error_data, duration_ms, total_tokens, cost_usd
              FROM doomed WHERE status NOT IN ('completed', 'failed', 'cancelled')),
        cancelled_events AS (
            {WebhookOutbox.TerminalEventsSql("unfinished", maxPayloadBytes)}),
        tombstones AS (
            -- The secret is kept only while an event of the job may still be sent.
            INSERT INTO llm_deleted_jobs (job_id, tenant_id, user_id, workflow_name, webhook_secret, deleted_at)
            SELECT d.id, d.tenant_id, d.user_id, d.workflow_name,
                   CASE WHEN d.status NOT IN ('completed', 'failed', 'cancelled')
                          OR EXISTS (SELECT 1 FROM llm_webhook_attempts a WHERE a.job_id = d.id AND a.state = 'pending')
                        THEN d.webhook_secret END,
                   $2
              FROM doomed d
            ON CONFLICT (job_id) DO NOTHING),
        settled_attempts AS (
            DELETE FROM llm_webhook_attempts WHERE job_id IN (SELECT id FROM doomed) AND state <> 'pending'),
        {UsageRollup.SubtractDeletedJobsSql("doomed")}
        SELECT count(*) FROM doomed
        """;

    /// <summary>Queues a failed or cancelled job again; it resumes from its checkpoints, so finished steps are not re-run.</summary>
    public async Task<RetryOutcome> RetryAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId).Select(j => new { j.Status, j.Priority }).FirstOrDefaultAsync(cancellationToken);
        if (job is null)
        {
            return RetryOutcome.NotFound;
        }

        // The attempt being retried is kept in previous_attempts (its outcome, error and timings), not overwritten;
        // started_at restarts with the next claim so the new attempt's timings are its own. Its step rows stay too
        // (keyed by job_attempt).
        int updated;
        await using (var retry = dataSource.CreateCommand(RetrySql))
        {
            retry.Parameters.Add(new NpgsqlParameter { Value = jobId });
            retry.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
            updated = await retry.ExecuteNonQueryAsync(cancellationToken);
        }

        if (updated == 0)
        {
            return RetryOutcome.NotRetryable;
        }

        try
        {
            await events.DeleteAsync(jobId);
            await queue.EnqueueAsync(new JobDispatch(jobId, job.Priority), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Retried job {JobId} could not be dispatched now; the reconciler will dispatch it", jobId);
            await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Queued)
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.DispatchedAt, (DateTimeOffset?)null), CancellationToken.None);
        }

        return RetryOutcome.Requeued;
    }

    // The first request's time is kept: a repeated cancel changes nothing.
    private static readonly string RequestCancelSql = $"""
        UPDATE llm_workflow_jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $2), updated_at = $2
         WHERE id = $1 AND {JobLifecycle.Guard(JobTransition.RequestCancel)}
        """;

    private static readonly string RetrySql = $"""
        UPDATE llm_workflow_jobs
           SET previous_attempts = COALESCE(previous_attempts, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                   'attempt', attempt, 'status', status, 'error_message', error_message, 'error', error_data,
                   'started_at', started_at, 'completed_at', completed_at, 'duration_ms', duration_ms, 'retried_at', $2::timestamptz)),
               status = 'queued', retry_count = retry_count + 1, error_message = NULL, error_data = NULL,
               started_at = NULL, completed_at = NULL, cancel_requested_at = NULL,
               queued_at = $2, dispatched_at = $2, updated_at = $2
         WHERE id = $1 AND {JobLifecycle.Guard(JobTransition.Retry)}
        """;

    /// <summary>Cancels a waiting job and records its terminal webhook event in the same statement (see JobStore's finish).</summary>
    private static string CancelWaitingSql(int maxPayloadBytes) => $"""
        WITH job AS (
            SELECT id, workflow_name, 'cancelled'::text AS status, user_id, username, action, attempt, webhook_url,
                   result_data, error_data, duration_ms, total_tokens, cost_usd
              FROM llm_workflow_jobs
             WHERE id = $1 AND {JobLifecycle.Guard(JobTransition.Cancel)}
               FOR UPDATE
        ), outbox AS (
            {WebhookOutbox.TerminalEventsSql("job", maxPayloadBytes)}
        )
        UPDATE llm_workflow_jobs j
           SET status = job.status, cancel_requested_at = $2, completed_at = $2, updated_at = $2
          FROM job
         WHERE j.id = job.id
        """;

    private async Task PublishCancelledAsync(Guid jobId)
    {
        try
        {
            await events.PublishAsync(jobId, "cancelled", new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "cancelled",
                ["job_id"] = jobId.ToString(),
                ["timestamp"] = time.GetUtcNow(),
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Could not publish the cancelled event of job {JobId}", jobId);
        }
    }
}
