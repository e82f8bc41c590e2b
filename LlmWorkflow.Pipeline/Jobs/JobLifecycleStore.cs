using System.Data.Common;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Pipeline.Webhooks;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The one owner of a job's lifecycle: every statement that changes a <c>llm_workflow_jobs</c> row is here, each with
/// its <see cref="JobLifecycle"/> guard (this file: submit, dispatch marks, claim, renew, release, progress;
/// <c>JobLifecycleStore.Run.cs</c>: a run's step and usage rows and its finish; <c>JobLifecycleStore.Commands.cs</c>:
/// cancel, retry, delete, stale cleanup, retention). Callers keep their roles (batching, Redis dispatch, scheduling)
/// and call these methods. Rows that statements return are read by column name into small records.
/// </summary>
/// <remarks>
/// A worker's writes during a run go through its <see cref="PostgresWriteBatcher"/>, which commits many jobs' writes
/// in one round trip; only a worker host registers one, so the methods that use it (release, progress, step and usage
/// rows, finish) are the worker's. Every other statement runs on its own command.
/// </remarks>
public sealed partial class JobLifecycleStore(
    NpgsqlDataSource dataSource,
    IOptions<WebhookOptions> webhookOptions,
    ILogger<JobLifecycleStore> logger,
    PostgresWriteBatcher? writes = null)
{
    // The finish's SQL embeds the webhook payload limit, so its statement is built once per store.
    private readonly MultiRowStatement _finishRows = new("finish", FinishSql(webhookOptions.Value.MaxPayloadBytes), FinishColumns);

    private PostgresWriteBatcher Writes => writes
        ?? throw new InvalidOperationException("A run's writes go through the worker's PostgresWriteBatcher, which this host does not register.");

    private static readonly string SubmitSql = $"""
        INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, webhook_url, webhook_secret, webhook_events,
                                       user_id, username, action, status, input_data, debug_mode, budget_usd, idempotency_key,
                                       queued_at, dispatched_at, created_at, updated_at, tenant_id, trace_id)
        SELECT r.id, r.id::text, r.workflow_name, r.priority, r.webhook_url, r.webhook_secret,
               CASE WHEN r.webhook_events IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.webhook_events)) END,
               r.user_id, r.username, r.action, '{JobLifecycle.Rule(JobTransition.Submit).To.ToWire()}', r.input_data, r.debug_mode,
               r.budget_usd, r.idempotency_key, r.created_at, r.created_at, r.created_at, r.created_at, r.tenant_id, r.trace_id
          FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::text[],
                      $10::jsonb[], $11::bool[], $12::numeric[], $13::text[], $14::timestamptz[], $15::text[], $16::text[])
               AS r(id, workflow_name, priority, webhook_url, webhook_secret, webhook_events, user_id, username, action,
                    input_data, debug_mode, budget_usd, idempotency_key, created_at, tenant_id, trace_id)
        ON CONFLICT DO NOTHING
        RETURNING id
        """;

    // Both dispatch statements mark the jobs they return as dispatched now, before their entries are written, so that
    // two reconcilers racing write one entry per job (SKIP LOCKED); each returns the column its band is ordered by.

    // Running jobs whose lease lapsed: dispatched_at older than the lease means "not yet for this lapse", and the
    // cutoff covers an entry Redis lost. A job asked to stop is not run again (as the Claim statement).
    private static readonly string DispatchLapsedSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.DispatchLapsed)} AND lease_expires_at < now()
                         AND cancel_requested_at IS NULL
                         AND (dispatched_at IS NULL OR dispatched_at < lease_expires_at OR dispatched_at < $1)
                       ORDER BY priority DESC, lease_expires_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, lease_expires_at AS waiting_since
        """;

    // Queued jobs whose entry Redis may have lost: never sent, or sent longer ago than the cutoff.
    private static readonly string DispatchSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.Dispatch)}
                         AND (dispatched_at IS NULL OR dispatched_at < $1)
                       ORDER BY priority DESC, queued_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, queued_at AS waiting_since
        """;

    // Only a queued job loses its mark: a lapsed running job keeps waiting for its next lapse or the cutoff.
    private static readonly string ClearDispatchMarksSql =
        $"UPDATE llm_workflow_jobs SET dispatched_at = NULL WHERE id = ANY($1) AND {JobLifecycle.Guard(JobTransition.Dispatch)}";

    // Each id is one primary-key probe (a LATERAL lookup with FOR UPDATE is never flattened into a join): with
    // `id = ANY($1)` alone the prepared (generic) plan scanned every queued job through the partial index on status.
    internal static readonly string ClaimSql = $"""
        WITH claimable AS (
            SELECT j.id
              FROM unnest($1::uuid[]) AS r(id) CROSS JOIN LATERAL (
                   SELECT j.id FROM llm_workflow_jobs j
                    WHERE j.id = r.id
                      AND ((j.{JobLifecycle.Guard(JobTransition.Claim)})
                           OR (j.{JobLifecycle.Guard(JobTransition.Reclaim)} AND j.lease_expires_at < now()))
                      AND j.cancel_requested_at IS NULL
                      FOR UPDATE) j
        ), claimed AS (
            UPDATE llm_workflow_jobs j
               SET status = 'processing', lease_owner = $2, worker_id = $2, lease_expires_at = now() + $3,
                   started_at = COALESCE(j.started_at, now()), attempt = j.attempt + 1, updated_at = now()
              FROM claimable
             WHERE j.id = claimable.id
            RETURNING j.id, j.workflow_name, j.input_data, j.attempt, j.user_id, j.username, j.action, j.budget_usd, j.debug_mode,
                      j.priority, j.webhook_url IS NOT NULL AS has_webhook, j.webhook_events
        )
        SELECT * FROM claimed
        """;

    // The renewal never waits for a row lock: a row another transaction holds (this worker's own write batch,
    // usually) is skipped and renewed at the next tick, with two thirds of its lease still left. Waiting would let
    // the renewal and a batch lock the same jobs in opposite orders and deadlock. Ownership is read from the
    // statement's snapshot, so a skipped job still counts as owned; if that transaction takes it away, the next
    // renewal says so.
    private static readonly string RenewSql = $"""
        WITH owned AS (
            SELECT id FROM llm_workflow_jobs
             WHERE id = ANY($1) AND lease_owner = $2 AND {JobLifecycle.Guard(JobTransition.Renew)} AND cancel_requested_at IS NULL
        ), renewed AS (
            UPDATE llm_workflow_jobs j SET lease_expires_at = now() + $3
              FROM (SELECT id FROM llm_workflow_jobs
                     WHERE id = ANY($1) AND lease_owner = $2 AND {JobLifecycle.Guard(JobTransition.Renew)} AND cancel_requested_at IS NULL
                       FOR UPDATE SKIP LOCKED) free
             WHERE j.id = free.id
        )
        SELECT id FROM owned
        """;

    private static readonly string ReleaseSql = $"""
        UPDATE llm_workflow_jobs
           SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, dispatched_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND ($3::int IS NULL OR attempt = $3) AND {JobLifecycle.Guard(JobTransition.Release)}
        """;

    private static readonly string ProgressSql = $"""
        UPDATE llm_workflow_jobs SET current_step_id = $2, current_step_name = $3, progress_percent = $4, updated_at = now()
         WHERE id = $1 AND {JobLifecycle.Guard(JobTransition.Checkpoint)}
        """;

    /// <summary>
    /// Submit: inserts the jobs (status queued) in one multi-row statement; returns the ids inserted. A job whose
    /// unique key another job holds (two requests with one idempotency key raced) is not inserted.
    /// </summary>
    public async Task<HashSet<Guid>> SubmitAsync(IReadOnlyList<WorkflowJob> jobs, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SubmitSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Id).ToArray() });
        p.Add(Texts(jobs.Select(j => j.WorkflowName)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Priority).ToArray() });
        p.Add(Texts(jobs.Select(j => j.WebhookUrl)));
        p.Add(Texts(jobs.Select(j => j.WebhookSecret)));
        p.Add(Jsonbs(jobs.Select(j => j.WebhookEvents is null ? null : System.Text.Json.JsonSerializer.Serialize(j.WebhookEvents))));
        p.Add(Texts(jobs.Select(j => j.UserId)));
        p.Add(Texts(jobs.Select(j => j.Username)));
        p.Add(Texts(jobs.Select(j => j.Action)));
        p.Add(Jsonbs(jobs.Select(j => j.InputData.RootElement.GetRawText())));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.DebugMode).ToArray() });
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.BudgetUsd).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
        p.Add(Texts(jobs.Select(j => j.IdempotencyKey)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.CreatedAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(Texts(jobs.Select(j => j.TenantId)));
        p.Add(Texts(jobs.Select(j => j.TraceId)));
        return await ReadIdsAsync(command, cancellationToken);
    }

    /// <summary>
    /// Dispatch: marks up to <paramref name="limit"/> queued jobs whose entry Redis may have lost (never sent, or sent
    /// before <paramref name="sentBefore"/>) as dispatched now, and returns them for their stream entries.
    /// </summary>
    public Task<IReadOnlyList<MarkedDispatch>> MarkQueuedForDispatchAsync(DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken) =>
        MarkForDispatchAsync(DispatchSql, sentBefore, limit, cancellationToken);

    /// <summary>
    /// DispatchLapsed: marks up to <paramref name="limit"/> running jobs whose lease lapsed (once per lapse, or again
    /// when their entry was sent before <paramref name="sentBefore"/>) as dispatched now, and returns them.
    /// </summary>
    public Task<IReadOnlyList<MarkedDispatch>> MarkLapsedForDispatchAsync(DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken) =>
        MarkForDispatchAsync(DispatchLapsedSql, sentBefore, limit, cancellationToken);

    private async Task<IReadOnlyList<MarkedDispatch>> MarkForDispatchAsync(string sql, DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = sentBefore });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var marked = new List<MarkedDispatch>();
        while (await reader.ReadAsync(cancellationToken))
        {
            marked.Add(new MarkedDispatch(
                new JobDispatch(reader.Field<Guid>("id"), reader.Field<int>("priority")), reader.Field<DateTimeOffset>("waiting_since")));
        }

        return marked;
    }

    /// <summary>
    /// Clears the <c>dispatched_at</c> mark of queued jobs whose XADD failed (Redis down): with the mark they would wait
    /// <see cref="WorkerOptions.RedispatchAfter"/> for the reconciler; without it they go out on its first tick after
    /// Redis is back. A failure is logged, not thrown: the periodic redispatch still sends them, later.
    /// </summary>
    public async Task ClearDispatchMarksAsync(IReadOnlyCollection<Guid> jobIds)
    {
        if (jobIds.Count == 0)
        {
            return;
        }

        try
        {
            await using var command = dataSource.CreateCommand(ClearDispatchMarksSql);
            command.Parameters.Add(new NpgsqlParameter { Value = jobIds.ToArray() });
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            logger.LogWarning(ex, "Could not clear the dispatch mark of {Count} job(s)", jobIds.Count);
        }
    }

    /// <summary>
    /// Claims jobs in one statement: each queued one, or processing one whose lease lapsed (its worker died). Jobs
    /// that are finished, cancelled, owned by a live worker or missing are simply absent from the result.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(
        IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobIds.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = workerId });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new Dictionary<Guid, ClaimedJob>(jobIds.Count);
        while (await reader.ReadAsync(cancellationToken))
        {
            var job = new ClaimedJob(
                reader.Field<Guid>("id"),
                reader.Field<string>("workflow_name"),
                JsonNode.Parse(reader.Field<string>("input_data")),
                reader.Field<int>("attempt"),
                reader.FieldOrNull<string>("user_id"),
                reader.FieldOrNull<string>("username"),
                reader.FieldOrNull<string>("action"),
                reader.FieldOrNull<decimal?>("budget_usd"),
                reader.Field<bool>("debug_mode"),
                reader.Field<int>("priority"),
                reader.Field<bool>("has_webhook"),
                reader.FieldOrNull<string[]>("webhook_events") ?? []);
            claimed[job.Id] = job;
        }

        return claimed;
    }

    /// <summary>Whether a cancel of the job was accepted (or the job is gone): checked before each paid step starts.</summary>
    public async Task<bool> StopRequestedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT cancel_requested_at IS NULL FROM llm_workflow_jobs WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return await command.ExecuteScalarAsync(cancellationToken) is not true;
    }

    /// <summary>Extends the lease; false when this worker no longer owns the job (it was cancelled or reclaimed).</summary>
    public async Task<bool> RenewLeaseAsync(Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken) =>
        (await RenewLeasesAsync([jobId], workerId, lease, cancellationToken)).Contains(jobId);

    /// <summary>
    /// Extends the leases of all the jobs a worker runs, in one statement; returns the jobs it still owns (the others
    /// were cancelled, deleted or reclaimed). A job whose row another transaction holds at that moment is not extended
    /// this time, but still counts as owned.
    /// </summary>
    public async Task<IReadOnlySet<Guid>> RenewLeasesAsync(IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RenewSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobIds.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = workerId });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        return await ReadIdsAsync(command, cancellationToken);
    }

    /// <summary>Gives a job back (worker shutting down): queued again, keeping its checkpoints for the next worker.</summary>
    /// <param name="attempt">The attempt this run claimed, so a run of an attempt that was taken over (even by the same
    /// worker, after a stall) cannot release the newer one; null for any attempt.</param>
    public async Task ReleaseAsync(Guid jobId, string workerId, CancellationToken cancellationToken, int? attempt = null)
    {
        List<NpgsqlParameter> p =
        [
            new() { Value = jobId },
            new() { Value = workerId },
            new() { Value = (object?)attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer },
        ];
        await Writes.ExecuteAsync(jobId, ReleaseSql, p, cancellationToken);
    }

    /// <summary>The running step and the job's progress, for pollers; advisory, so only while the job runs.</summary>
    public async Task UpdateProgressAsync(Guid jobId, string stepId, string stepName, int percent, CancellationToken cancellationToken)
    {
        List<NpgsqlParameter> p = [new() { Value = jobId }, new() { Value = stepId }, new() { Value = stepName }, new() { Value = percent }];
        await Writes.ExecuteAsync(jobId, ProgressSql, p, cancellationToken);
    }

    private static async Task<HashSet<Guid>> ReadIdsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var ids = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.Field<Guid>("id"));
        }

        return ids;
    }

    private static NpgsqlParameter Texts(IEnumerable<string?> values) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static NpgsqlParameter Jsonbs(IEnumerable<string?> values) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb };
}

/// <summary>Reads a returned row's columns by name, so a statement's column order is free to change.</summary>
internal static class RowFields
{
    /// <summary>A column that is never NULL in this row.</summary>
    public static T Field<T>(this DbDataReader reader, string column) => reader.GetFieldValue<T>(reader.GetOrdinal(column));

    /// <summary>A column that may be NULL: <c>default</c> (null for references and nullable values) when it is.</summary>
    public static T? FieldOrNull<T>(this DbDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? default : reader.GetFieldValue<T>(ordinal);
    }
}

/// <summary>A job the reconciler marked as dispatched, with the time its band orders it by (queued, or lease lapsed).</summary>
public sealed record MarkedDispatch(JobDispatch Dispatch, DateTimeOffset WaitingSince);

/// <summary>What a worker needs from a claimed job row.</summary>
/// <param name="Attempt">The attempt this run is (the claim's).</param>
/// <param name="HasWebhook">The job has a webhook URL, so its terminal event goes to the outbox.</param>
/// <param name="WebhookEvents">Opt-in events beyond the terminal ones, e.g. <c>workflow.step_completed</c>.</param>
public sealed record ClaimedJob(
    Guid Id, string WorkflowName, JsonNode? Input, int Attempt, string? UserId, string? Username, string? Action,
    decimal? BudgetUsd, bool DebugMode, int Priority, bool HasWebhook, IReadOnlyList<string> WebhookEvents);
