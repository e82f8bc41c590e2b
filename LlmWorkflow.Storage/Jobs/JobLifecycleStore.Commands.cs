using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The transitions callers and operators start (Cancel, RequestCancel, Retry, bulk delete) and the housekeeping ones
/// (StaleCleanup, retention). <c>JobCommands</c> and <see cref="JobMaintenance"/> decide when; the statements
/// are here.
/// </summary>
public sealed partial class JobLifecycleStore
{
    // The first request's time is kept: a repeated cancel changes nothing.
    // $1 job id, $2 now.
    private static readonly string RequestCancelSql = $"""
        UPDATE llm_workflow_jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $2), updated_at = $2
         WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.RequestCancel)}
        """;

    // The attempt being retried is kept in previous_attempts (its outcome, error and timings), not overwritten;
    // started_at restarts with the next claim so the new attempt's timings are its own. Its step rows stay too
    // (keyed by job_attempt).
    // $1 job id, $2 now (RequeueSql).
    private static readonly string RetrySql = RequeueSql(JobTransition.Retry);

    // A rerun first takes the checkpoints of the chosen step and those after it out of use (their rows stay, as
    // history): the new attempt runs them again and reuses only the steps before. The signals those steps took (an
    // approval's decision, a wait's event) are superseded with them: kept in the inbox, never taken again, so a rerun
    // wait takes only a newer signal or waits anew (an approval issues new links).
    // $1 job id, $2 now, $3 the step ids run again.
    private static readonly string RerunSql = $"""
        WITH uncheckpointed AS (
            UPDATE llm_job_steps SET is_checkpoint = FALSE
             WHERE job_id = $1 AND step_id = ANY($3) AND is_checkpoint
               AND EXISTS (SELECT 1 FROM llm_workflow_jobs WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Rerun)})
        ), superseded AS (
            UPDATE llm_job_signals SET superseded_at = $2
             WHERE job_id = $1 AND taken_by_step IS NOT NULL AND superseded_at IS NULL
               AND (taken_by_step = ANY($3) OR taken_by_step IN (SELECT step_key FROM llm_job_steps WHERE job_id = $1 AND step_id = ANY($3)))
               AND EXISTS (SELECT 1 FROM llm_workflow_jobs WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Rerun)})
        )
        {RequeueSql(JobTransition.Rerun, stillReused: "NOT (s.step_id = ANY($3))")}
        """;

    // The attempt being retried is kept in previous_attempts (its outcome, error and timings), not overwritten;
    // started_at restarts with the next claim so the new attempt's timings are its own (the first run's implied trace
    // entry is written out first, see RecordedAttemptTraces). Its step rows stay too (keyed by job_attempt). A wait it
    // had parked on is forgotten: a sleep run again sleeps again; so is a time-to-live (start_by), which would otherwise
    // expire the retried job at once. The attempt's entry carries cost_usd, what its calls cost that the next attempt
    // does not count again (the job's cost_usd less the earlier attempts' entries and the llm checkpoints still reused),
    // so the finish adds it back (FinishSql) and the job's cost_usd counts every call paid. <paramref name="stillReused"/>
    // picks the checkpoints the next attempt reuses.
    private static string RequeueSql(JobTransition transition, string stillReused = "TRUE") => $"""
        UPDATE llm_workflow_jobs
           SET previous_attempts = COALESCE(previous_attempts, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                   'attempt', attempt, 'status', status, 'error_message', error_message, 'error', error_data,
                   'started_at', started_at, 'completed_at', completed_at, 'duration_ms', duration_ms, 'retried_at', $2::timestamptz,
                   'cost_usd', GREATEST(COALESCE(cost_usd, 0) - {EarlierAttemptsCostSql("previous_attempts")} - (
                       SELECT COALESCE(sum(c.cost_usd), 0) FROM (
                           SELECT DISTINCT ON (s.step_key) s.cost_usd, s.model, s.reused_from_job_id FROM llm_job_steps s
                            WHERE s.job_id = $1 AND s.is_checkpoint AND {stillReused}
                            ORDER BY s.step_key, s.job_attempt DESC) c
                        WHERE c.model IS NOT NULL AND c.reused_from_job_id IS NULL), 0))),
               attempt_traces = {RecordedAttemptTraces("")},
               status = 'queued', retry_count = retry_count + 1, error_message = NULL, error_data = NULL, result_data = NULL,
               started_at = NULL, completed_at = NULL, cancel_requested_at = NULL, wait_data = NULL, start_by = NULL,
               queued_at = $2, dispatched_at = $2, updated_at = $2
         WHERE id = $1 AND {JobLifecycle.KeyedGuard(transition)}
        """;

    /// <summary>The cost the job's earlier attempts carry (their previous_attempts entries' cost_usd), 0 for none.</summary>
    internal static string EarlierAttemptsCostSql(string column) =>
        $"COALESCE((SELECT sum((a->>'cost_usd')::numeric) FROM jsonb_array_elements({column}) a), 0)";

    // $1 cutoff.
    private const string PurgeTombstonesSql = """
        WITH purged AS (DELETE FROM llm_deleted_jobs WHERE deleted_at < $1 RETURNING job_id)
        DELETE FROM llm_webhook_attempts WHERE job_id IN (SELECT job_id FROM purged)
        """;

    // The deleted jobs' calls stay in the ledger, marked as from deleted jobs, in the same statement
    // (UsageRollup.KeepDeletedJobsUsageSql); the usage retention removes them later.
    // $1 cutoff (created before), $2 batch size, $3 from (created at or after: where the last batch ended).
    private static readonly string RetentionSql = $"""
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
        {UsageRollup.KeepDeletedJobsUsageSql("doomed", "now()")}
        SELECT count(*) AS deleted, max(created_at) AS last_created_at FROM doomed
        """;

    /// <summary>Cancels a waiting job and records its terminal webhook event in the same statement (as the finish does).</summary>
    // $1 job id, $2 now.
    private static string CancelWaitingSql(int maxPayloadBytes) => $"""
        WITH job AS (
            SELECT id, workflow_name, 'cancelled'::text AS status, status AS previous_status, user_id, username, action,
                   attempt, webhook_url, result_data, error_data, duration_ms, total_tokens, cost_usd
              FROM llm_workflow_jobs
             WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Cancel)}
               FOR UPDATE
        ), outbox AS (
            {WebhookOutbox.TerminalEventsSql("job", maxPayloadBytes)}
        )
        UPDATE llm_workflow_jobs j
           SET status = job.status, cancel_requested_at = $2, completed_at = $2, updated_at = $2
          FROM job
         WHERE j.id = job.id
        RETURNING job.workflow_name, job.previous_status, j.tenant_id, j.concurrency_key, j.concurrency_limit
        """;

    // $1 job ids, $2 now.
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
        {UsageRollup.KeepDeletedJobsUsageSql("doomed", "$2")}
        SELECT count(*) AS deleted FROM doomed
        """;

    /// <summary>
    /// One statement: claims the stale rows (skipping any another transaction holds, e.g. a worker finishing it now),
    /// records their terminal webhook events with the stale error, and fails them.
    /// </summary>
    // A queued job is measured from when it was last queued, not from its creation: queued_at (its submission, retry or
    // schedule) or run_at (when a wait it was woken or resumed from ended), so a job queued again after a long wait is
    // not failed as never started.
    // $1 now, $2 running jobs started before, $3 queued jobs (re)queued before, $4 and $5 their error messages,
    // $6 and $7 their errors (jsonb).
    private static string CleanupStaleSql(int maxPayloadBytes) => $"""
        WITH job AS (
            SELECT id, workflow_name, 'failed'::text AS status, user_id, username, action, attempt, webhook_url,
                   result_data, CASE WHEN status = 'processing' THEN $6::jsonb ELSE $7::jsonb END AS error_data,
                   duration_ms, total_tokens, cost_usd,
                   CASE WHEN status = 'processing' THEN 'processing_timeout' ELSE 'never_started' END AS stale_reason
              FROM llm_workflow_jobs
             WHERE {JobLifecycle.Guard(JobTransition.StaleCleanup)}
               AND ((status = 'processing' AND started_at < $2 AND (lease_expires_at IS NULL OR lease_expires_at < $1))
                    OR (status IN ('pending', 'queued') AND GREATEST(queued_at, COALESCE(run_at, queued_at)) < $3))
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

    /// <summary>Cancel: a waiting job is cancelled, with its terminal webhook event; null when it was not waiting.</summary>
    public async Task<CancelledWaitingJob?> CancelWaitingAsync(Guid jobId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CancelWaitingSql(webhookOptions.Value.MaxPayloadBytes));
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new CancelledWaitingJob(
            reader.Field<string>("workflow_name"),
            reader.Field<string>("previous_status") == JobStatus.Queued.ToWire(),
            reader.Field<string>("tenant_id"),
            reader.FieldOrNull<string>("concurrency_key"),
            reader.FieldOrNull<int?>("concurrency_limit"));
    }

    /// <summary>
    /// RequestCancel: a running job is asked to stop; from this commit on it ends cancelled. False when it was not
    /// running.
    /// </summary>
    public async Task<bool> RequestCancelAsync(Guid jobId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RequestCancelSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Retry: a failed or cancelled job is queued again (marked dispatched now); false when it was neither. With
    /// <paramref name="rerunStepIds"/>, Rerun: a finished job (completed included) is queued again and those steps'
    /// checkpoints are taken out of use, so they run again while the others are reused.
    /// </summary>
    public async Task<bool> RetryAsync(Guid jobId, DateTimeOffset now, CancellationToken cancellationToken, IReadOnlyCollection<string>? rerunStepIds = null)
    {
        await using var command = dataSource.CreateCommand(rerunStepIds is null ? RetrySql : RerunSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        if (rerunStepIds is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = rerunStepIds.ToArray() });
        }

        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Deletes jobs in one statement: the jobs (their steps by cascade), their tombstones, their settled webhook
    /// attempts and the cancelled events of jobs still unfinished. Their calls stay in the ledger, marked as from
    /// deleted jobs (<see cref="UsageRollup.KeepDeletedJobsUsageSql"/>).
    /// </summary>
    public async Task DeleteAsync(Guid[] jobIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // In a transaction of its own for the setting, sent with it in one round trip (Npgsql adds the BEGIN).
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var delete = TransactionSettings.Batch(connection, transaction, [TransactionSettings.NoJit],
            DeleteSql(webhookOptions.Value.MaxPayloadBytes), jobIds, now);
        await delete.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// StaleCleanup: fails running jobs started before <paramref name="processing"/>'s cutoff whose lease lapsed, and
    /// waiting jobs created before <paramref name="waiting"/>'s, each with that rule's message and error and its
    /// <c>workflow.failed</c> event; returns the jobs it failed.
    /// </summary>
    internal async Task<IReadOnlyList<StaleJob>> FailStaleAsync(DateTimeOffset now, StaleRule processing, StaleRule waiting, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CleanupStaleSql(webhookOptions.Value.MaxPayloadBytes));
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = processing.Before });
        command.Parameters.Add(new NpgsqlParameter { Value = waiting.Before });
        command.Parameters.Add(new NpgsqlParameter { Value = processing.Message });
        command.Parameters.Add(new NpgsqlParameter { Value = waiting.Message });
        command.Parameters.Add(Jsonb(processing.Error));
        command.Parameters.Add(Jsonb(waiting.Error));
        var failed = new List<StaleJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            failed.Add(new StaleJob(reader.Field<string>("stale_reason"), reader.Field<string>("workflow_name")));
        }

        return failed;
    }

    /// <summary>
    /// Retention: deletes completed, failed and cancelled jobs created before <paramref name="cutoff"/>,
    /// <paramref name="batchSize"/> rows per statement and transaction so no statement holds many locks or stalls the
    /// workers' writes; then the tombstones (and their outliving webhook attempts) of jobs deleted before it.
    /// </summary>
    internal async Task<RetentionResult> DeleteFinishedAsync(DateTimeOffset cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var deleted = 0;
        var batches = 0;
        // Oldest first, each batch starting where the last one ended: a batch never walks again over the index
        // entries of rows the batches before it deleted (they stay in the index until vacuum).
        var from = DateTimeOffset.MinValue;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        while (true)
        {
            var batch = await DeleteFinishedBatchAsync(connection, cutoff, batchSize, from, cancellationToken);
            from = batch.LastCreatedAt ?? from;
            deleted += batch.Deleted;
            batches++;
            if (batch.Deleted < batchSize)
            {
                await using var purge = new NpgsqlCommand(PurgeTombstonesSql, connection);
                purge.Parameters.Add(new NpgsqlParameter { Value = cutoff });
                await purge.ExecuteNonQueryAsync(cancellationToken);
                return new RetentionResult(deleted, batches);
            }
        }
    }

    private static async Task<RetentionBatch> DeleteFinishedBatchAsync(
        NpgsqlConnection connection, DateTimeOffset cutoff, int batchSize, DateTimeOffset from, CancellationToken cancellationToken)
    {
        // One transaction per batch. Its joins are probes of primary keys (a thousand jobs, their calls, their rollup
        // rows): with hash joins the planner scanned and hashed the whole rollup tables on every batch (~1 s of CPU per
        // batch at 10 M jobs). The plan's settings go in the same round trip.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = TransactionSettings.Batch(connection, transaction,
            [TransactionSettings.NoJit, .. TransactionSettings.NoHashOrMergeJoins], RetentionSql, cutoff, batchSize, from);
        RetentionBatch batch;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            batch = new RetentionBatch((int)reader.Field<long>("deleted"), reader.FieldOrNull<DateTimeOffset?>("last_created_at"));
        }

        await transaction.CommitAsync(cancellationToken);
        return batch;
    }

    private static NpgsqlParameter Jsonb(JsonNode node) => new() { Value = node.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb };

    private sealed record RetentionBatch(int Deleted, DateTimeOffset? LastCreatedAt);
}

/// <summary>
/// Which jobs of one kind (running, waiting) a stale cleanup fails: started (running) or created (waiting) before
/// <see cref="Before"/>; with the message and error they get.
/// </summary>
internal sealed record StaleRule(DateTimeOffset Before, string Message, JsonObject Error);

/// <summary>A job a stale cleanup failed: why (<c>processing_timeout</c> or <c>never_started</c>) and its workflow.</summary>
internal sealed record StaleJob(string Reason, string WorkflowName);

/// <summary>A job cancelled before it ran. <paramref name="WasQueued"/>: it held one of its tenant's (key's) slots.</summary>
public sealed record CancelledWaitingJob(string WorkflowName, bool WasQueued, string TenantId, string? ConcurrencyKey, int? ConcurrencyLimit);
