using System.Data.Common;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The one owner of a job's lifecycle: every statement that changes a <c>llm_workflow_jobs</c> row is here, each with
/// its <see cref="JobLifecycle"/> guard. This file holds a job's own path: submit, dispatch marks, claim, renew,
/// release, progress, a run's step and usage rows and its finish (Finish, Fail, FinishCancelled);
/// <c>JobLifecycleStore.Commands.cs</c> the transitions callers and operators start: cancel, retry, delete, stale
/// cleanup, retention. Callers keep their roles (batching, Redis dispatch, scheduling)
/// and call these methods. Rows that statements return are read by column name into small records.
/// </summary>
/// <remarks>
/// A run's writes (release, progress, step and usage rows, finish) are built here as statements and sent by the
/// worker's <c>JobRunStore</c> through its <c>PostgresWriteBatcher</c>, which commits many jobs' writes
/// in one round trip. Every other statement runs on its own command. The run's statements and reads (claim, renew,
/// stop check, checkpoint read, step and usage rows, park, release, finish) are internal, visible to the Worker and the
/// tests only, so the Api cannot claim or finish a job.
/// </remarks>
public sealed partial class JobLifecycleStore(
    NpgsqlDataSource dataSource,
    IOptions<WebhookOptions> webhookOptions,
    ILogger<JobLifecycleStore> logger)
{
    // The finish's SQL embeds the webhook payload limit, so its statement is built once per store.
    private readonly MultiRowStatement _finishRows = new("finish", FinishSql(webhookOptions.Value.MaxPayloadBytes), FinishColumns);

    // One array per column, one element per job: $1 ids, $2 workflow names, $3 priorities, $4 webhook URLs, $5 webhook secrets,
    // $6 webhook events (jsonb), $7 user ids, $8 usernames, $9 actions, $10 inputs, $11 debug modes, $12 budgets, $13 idempotency
    // keys, $14 created at, $15 tenants, $16 trace ids, $17 run at, $18 schedule ids, $19 definition hashes, $20 idempotency
    // fingerprints, $21 idempotent responses, $22 concurrency keys, $23 concurrency limits, $24 service tiers, $25 deadlines;
    // within limits also $26 capped tenant ids, $27 their caps, $28 the slot waits' recheck time.
    // `r` is the submissions with `slot_by`: null, or what holds the job from the start (SubmitForSlot: tenant, key or both).
    private static string SubmitSql(bool withinLimits) => $"""
        WITH u AS (
            SELECT u.*, EXISTS (SELECT 1 FROM llm_workflow_pauses p WHERE p.workflow_name = u.workflow_name) AS held
              FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::text[],
                          $10::jsonb[], $11::bool[], $12::numeric[], $13::text[], $14::timestamptz[], $15::text[], $16::text[],
                          $17::timestamptz[], $18::uuid[], $19::text[], $20::text[], $21::json[], $22::text[], $23::int[], $24::text[],
                          $25::timestamptz[])
                   AS u(id, workflow_name, priority, webhook_url, webhook_secret, webhook_events, user_id, username, action,
                        input_data, debug_mode, budget_usd, idempotency_key, created_at, tenant_id, trace_id, run_at, schedule_id, definition_hash,
                        idempotency_fingerprint, idempotent_response, concurrency_key, concurrency_limit, service_tier, deadline)
        ), r AS (
            {(withinLimits ? SubmitSlots() : "SELECT u.*, NULL::text AS slot_by FROM u")}
        )
        INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, webhook_url, webhook_secret, webhook_events,
                                       user_id, username, action, status, input_data, debug_mode, budget_usd, idempotency_key,
                                       queued_at, dispatched_at, created_at, updated_at, tenant_id, trace_id, run_at, schedule_id, definition_hash,
                                       idempotency_fingerprint, idempotent_response, concurrency_key, concurrency_limit, wait_data,
                                       service_tier, deadline)
        SELECT r.id, r.id::text, r.workflow_name, r.priority, r.webhook_url, r.webhook_secret,
               CASE WHEN r.webhook_events IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.webhook_events)) END,
               r.user_id, r.username, r.action,
               CASE WHEN r.run_at IS NOT NULL OR r.held THEN '{JobLifecycle.Rule(JobTransition.SubmitScheduled).To.ToWire()}'
                    WHEN r.slot_by IS NOT NULL THEN '{JobLifecycle.Rule(JobTransition.SubmitForSlot).To.ToWire()}'
                    ELSE '{JobLifecycle.Rule(JobTransition.Submit).To.ToWire()}' END,
               r.input_data, r.debug_mode, r.budget_usd, r.idempotency_key,
               COALESCE(r.run_at, r.created_at), CASE WHEN r.run_at IS NULL AND NOT r.held AND r.slot_by IS NULL THEN r.created_at END,
               r.created_at, r.created_at,
               r.tenant_id, r.trace_id, COALESCE(r.run_at, CASE WHEN r.held THEN r.created_at END), r.schedule_id, r.definition_hash,
               r.idempotency_fingerprint, r.idempotent_response, r.concurrency_key, r.concurrency_limit,
               {(withinLimits ? SubmitSlotWait() : "NULL::jsonb")},
               COALESCE(r.service_tier, 'standard'), r.deadline
          FROM r
        ON CONFLICT DO NOTHING
        RETURNING id, status
        """;

    // Within limits: each capped tenant's and each key's jobs that would run now are ranked by priority, then age, after
    // the tenant's (key's) queued and running jobs; those past the cap (limit) wait for a slot from the start. The
    // caller holds the tenants' and keys' slot locks (the ones claims and releases take), so no release is missed.
    // (Fragments are methods, not fields: a named statement is a field, planned on its own by StatementPlanTests.)
    private static string SubmitSlots() => """
        SELECT v.*, CASE WHEN v.over_tenant AND v.over_key THEN 'both' WHEN v.over_tenant THEN 'tenant' WHEN v.over_key THEN 'key' END AS slot_by
          FROM (SELECT u.*,
                       u.run_at IS NULL AND NOT u.held AND COALESCE(c.taken + row_number() OVER (
                           PARTITION BY u.tenant_id, u.run_at IS NULL AND NOT u.held ORDER BY u.priority DESC, u.created_at, u.id) > c.cap, FALSE) AS over_tenant,
                       u.run_at IS NULL AND NOT u.held AND COALESCE(k.taken + row_number() OVER (
                           PARTITION BY u.concurrency_key, u.run_at IS NULL AND NOT u.held ORDER BY u.priority DESC, u.created_at, u.id) > u.concurrency_limit, FALSE) AS over_key
                  FROM u
                  LEFT JOIN (SELECT c.tenant_id, c.cap,
                                    (SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = c.tenant_id AND w.status IN ('queued', 'processing')) AS taken
                               FROM unnest($26::text[], $27::int[]) AS c(tenant_id, cap)) c ON c.tenant_id = u.tenant_id
                  LEFT JOIN (SELECT q.concurrency_key,
                                    (SELECT count(*) FROM llm_workflow_jobs w WHERE w.concurrency_key = q.concurrency_key AND w.status IN ('queued', 'processing')) AS taken
                               FROM (SELECT DISTINCT concurrency_key FROM u WHERE concurrency_key IS NOT NULL) q) k ON k.concurrency_key = u.concurrency_key) v
        """;

    // The slot wait of a job held from the start, as a claim's WaitForSlot writes it (nothing to resume).
    private static string SubmitSlotWait() => $"""
        CASE WHEN r.slot_by IS NOT NULL THEN jsonb_build_object('kind', '{SlotWaitKind}', 'step_id', '', 'step_key', '', 'until', $28::timestamptz,
                  'slot', jsonb_build_object('by', r.slot_by, 'tenant_id', r.tenant_id, 'concurrency_key', r.concurrency_key, 'at', 'submit'),
                  'resumes', NULL) END
        """;

    private static readonly string PlainSubmitSql = SubmitSql(withinLimits: false);
    private static readonly string SubmitWithinLimitsSql = SubmitSql(withinLimits: true);

    // Both dispatch statements mark the jobs they return as dispatched now, before their entries are written, so that
    // two reconcilers racing write one entry per job (SKIP LOCKED); each returns the column its band is ordered by.

    // Running jobs whose lease lapsed: dispatched_at older than the lease means "not yet for this lapse", and the
    // cutoff covers an entry Redis lost. A job asked to stop is not run again (as the Claim statement).
    // $1 sent before (an entry sent earlier may be lost), $2 limit.
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

    // Queued jobs whose entry Redis may have lost: never sent, or sent longer ago than the cutoff, and not among the
    // jobs known to have their entry.
    // $1 sent before, $2 limit, $3 job ids that have their entry.
    private static readonly string DispatchSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.Dispatch)}
                         AND (dispatched_at IS NULL OR dispatched_at < $1) AND id <> ALL($3)
                       ORDER BY priority DESC, queued_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, queued_at AS waiting_since
        """;

    // Only a queued job loses its mark: a lapsed running job keeps waiting for its next lapse or the cutoff.
    // $1 job ids.
    private static readonly string ClearDispatchMarksSql =
        $"UPDATE llm_workflow_jobs SET dispatched_at = NULL WHERE id = ANY($1) AND {JobLifecycle.KeyedGuard(JobTransition.Dispatch)}";

    // Each id is one primary-key probe (a LATERAL lookup with FOR UPDATE is never flattened into a join): with
    // `id = ANY($1)` alone the prepared (generic) plan scanned every queued job through the partial index on status.
    // The ids of $1 that may be claimed, locked, with `columns`: shared with the claim that enforces limits.
    internal static string ClaimableJobsSql(string columns) => $"""
        SELECT {columns}
          FROM unnest($1::uuid[]) AS r(id) CROSS JOIN LATERAL (
               SELECT {columns} FROM llm_workflow_jobs j
                WHERE j.id = r.id
                  AND ({JobLifecycle.KeyedGuard(JobTransition.Claim, "j.")}
                       OR ({JobLifecycle.KeyedGuard(JobTransition.Reclaim, "j.")} AND j.lease_expires_at < now()))
                  AND j.cancel_requested_at IS NULL
                  FOR UPDATE) j
        """;

    // The claim of the jobs `ids` selects, returning what a run needs (ClaimedJob); $1 the batch's job ids, $2 worker
    // id (varchar, as lease_owner), $3 lease (interval), `traces` the trace id of each of $1's runs (text[], null where unknown). Recording the
    // run's trace here costs no statement and no row version of its own, and a run that dies still has its trace.
    // By id = ANY, not a join: on a table of a few thousand rows the planner joins by reading every row.
    internal static string ClaimJobsSql(string ids, string traces) => $"""
        UPDATE llm_workflow_jobs j
           SET status = 'processing', lease_owner = $2, worker_id = $2, lease_expires_at = now() + $3,
               started_at = COALESCE(j.started_at, now()), attempt = j.attempt + 1, updated_at = now(),
               attempt_traces = CASE WHEN ({traces}::text[])[array_position($1::uuid[], j.id)] IS NULL THEN j.attempt_traces
                   ELSE {AppendAttemptTrace("j.attempt_traces", "j.attempt + 1", $"({traces}::text[])[array_position($1::uuid[], j.id)]", "$2::varchar")} END
         WHERE j.id = ANY(ARRAY({ids}))
        RETURNING j.id, j.workflow_name, j.input_data, j.attempt, j.user_id, j.username, j.action, j.budget_usd, j.debug_mode,
                  j.priority, j.webhook_url IS NOT NULL AS has_webhook, j.webhook_events, j.wait_data,
                  j.definition_hash, j.forked_from_job_id IS NOT NULL AS is_fork, j.tenant_id, j.concurrency_key, j.concurrency_limit,
                  j.service_tier, j.deadline
        """;

    // $1 job ids, $2 worker id (the lease owner), $3 lease (interval), $4 each run's trace id.
    internal static readonly string ClaimSql = $"""
        WITH claimable AS (
            {ClaimableJobsSql("j.id")}
        ), claimed AS (
            {ClaimJobsSql("SELECT id FROM claimable", traces: "$4")}
        )
        SELECT * FROM claimed
        """;

    // The renewal never waits for a row lock: a row another transaction holds (this worker's own write batch,
    // usually) is skipped and renewed at the next tick, with two thirds of its lease still left. Waiting would let
    // the renewal and a batch lock the same jobs in opposite orders and deadlock. Ownership is read from the
    // statement's snapshot, so a skipped job still counts as owned; if that transaction takes it away, the next
    // renewal says so.
    // $1 job ids, $2 worker id, $3 lease (interval).
    private static readonly string RenewSql = $"""
        WITH owned AS (
            SELECT id FROM llm_workflow_jobs
             WHERE id = ANY($1) AND lease_owner = $2 AND {JobLifecycle.KeyedGuard(JobTransition.Renew)} AND cancel_requested_at IS NULL
        ), renewed AS (
            UPDATE llm_workflow_jobs j SET lease_expires_at = now() + $3
              FROM (SELECT id FROM llm_workflow_jobs
                     WHERE id = ANY($1) AND lease_owner = $2 AND {JobLifecycle.KeyedGuard(JobTransition.Renew)} AND cancel_requested_at IS NULL
                       FOR UPDATE SKIP LOCKED) free
             WHERE j.id = free.id
        )
        SELECT id FROM owned
        """;

    // $1 job id, $2 worker id, $3 the attempt claimed (NULL: any).
    private static readonly string ReleaseSql = $"""
        UPDATE llm_workflow_jobs
           SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, dispatched_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND ($3::int IS NULL OR attempt = $3) AND {JobLifecycle.KeyedGuard(JobTransition.Release)}
        """;

    // $1 job id, $2 step id, $3 step name, $4 percent.
    private static readonly string ProgressSql = $"""
        UPDATE llm_workflow_jobs SET current_step_id = $2, current_step_name = $3, progress_percent = $4, updated_at = now()
         WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Checkpoint)}
        """;

    // $1 job id.
    private const string StopRequestedSql = "SELECT cancel_requested_at IS NULL AS running FROM llm_workflow_jobs WHERE id = $1";

    // $1 job ids.
    private const string StopsRequestedSql = """
        SELECT id FROM unnest($1::uuid[]) AS id
        EXCEPT
        SELECT id FROM llm_workflow_jobs WHERE id = ANY($1) AND cancel_requested_at IS NULL
        """;

    // $1 job id, $2 step key.
    private const string CheckpointSql = """
        SELECT output, step_id, display_name, step_type, status, attempts, started_at, finished_at, duration_ms,
               parent_step_id, branch, provider, model, input_tokens, output_tokens, cost_usd, reused_from_job_id
          FROM llm_job_steps
         WHERE job_id = $1 AND step_key = $2 AND is_checkpoint
         ORDER BY job_attempt DESC
         LIMIT 1
        """;

    /// <summary>
    /// Submit (status queued), SubmitScheduled (status scheduled, for a job with a <c>run_at</c>) or, with
    /// <paramref name="limits"/>, SubmitForSlot (status waiting, for a job of a capped tenant or a concurrency key that
    /// has as many jobs queued and running as its limit): inserts the jobs in one multi-row statement. A job whose
    /// unique key another job holds (two requests with one idempotency key raced) is not inserted.
    /// </summary>
    public Task<SubmittedJobs> SubmitAsync(IReadOnlyList<WorkflowJob> jobs, CancellationToken cancellationToken, TenantConcurrency? limits = null) =>
        SubmitAsync(jobs, null, cancellationToken, limits);

    /// <summary>
    /// Submit, inside <paramref name="transaction"/> when one is given: a schedule's tick inserts its job in the same
    /// transaction that records the tick, so a tick and its job commit together or not at all.
    /// </summary>
    public async Task<SubmittedJobs> SubmitAsync(
        IReadOnlyList<WorkflowJob> jobs, NpgsqlTransaction? transaction, CancellationToken cancellationToken, TenantConcurrency? limits = null)
    {
        // Limits apply only to a batch with a job of a capped tenant or with a concurrency key; the rest take no lock.
        var slotLocks = limits is null ? [] : SlotLocks(jobs, limits);
        await using var batch = transaction is null ? dataSource.CreateBatch() : new NpgsqlBatch(transaction.Connection, transaction);
        if (slotLocks.Length > 0)
        {
            // The locks and the insert in one implicit transaction (or the caller's): the count the insert makes sees
            // every claim and release that committed before it, and none can slip in between.
            batch.BatchCommands.Add(new NpgsqlBatchCommand(LockSlotsSql) { Parameters = { new NpgsqlParameter { Value = slotLocks } } });
        }

        var command = new NpgsqlBatchCommand(slotLocks.Length > 0 ? SubmitWithinLimitsSql : PlainSubmitSql);
        batch.BatchCommands.Add(command);
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
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.RunAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.ScheduleId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        p.Add(Texts(jobs.Select(j => j.DefinitionHash)));
        p.Add(Texts(jobs.Select(j => j.IdempotencyFingerprint)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.IdempotentResponse).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
        p.Add(Texts(jobs.Select(j => j.ConcurrencyKey)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.ConcurrencyLimit).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        p.Add(Texts(jobs.Select(j => j.ServiceTier)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Deadline).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        if (slotLocks.Length > 0)
        {
            p.Add(new NpgsqlParameter { Value = limits!.Tenants });
            p.Add(new NpgsqlParameter { Value = limits.Limits });
            p.Add(new NpgsqlParameter { Value = DateTimeOffset.UtcNow + TenantConcurrency.SlotRecheckAfter });
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (slotLocks.Length > 0)
        {
            await reader.NextResultAsync(cancellationToken);
        }

        var submitted = new SubmittedJobs([], []);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.Field<Guid>("id");
            submitted.Inserted.Add(id);
            if (reader.Field<string>("status") == JobLifecycle.Rule(JobTransition.SubmitForSlot).To.ToWire())
            {
                submitted.WaitingForSlot.Add(id);
            }
        }

        return submitted;
    }

    /// <summary>The slot locks a submission batch takes, sorted: its capped tenants' and its concurrency keys' (see <c>JobLifecycleStore.Slots.cs</c>).</summary>
    private static string[] SlotLocks(IReadOnlyList<WorkflowJob> jobs, TenantConcurrency limits) =>
        [.. jobs.Where(j => j.RunAt is null)
            .SelectMany(j => new[]
            {
                limits.CapOf(j.TenantId) is null ? null : TenantSlotLock(j.TenantId!),
                j.ConcurrencyKey is null ? null : KeySlotLock(j.ConcurrencyKey),
            })
            .OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Dispatch: marks up to <paramref name="limit"/> queued jobs whose entry Redis may have lost (never sent, or sent
    /// before <paramref name="sentBefore"/>) as dispatched now, and returns them for their stream entries. The jobs of
    /// <paramref name="withEntry"/> are known to have theirs and are left alone.
    /// </summary>
    public Task<IReadOnlyList<MarkedDispatch>> MarkQueuedForDispatchAsync(
        DateTimeOffset sentBefore, IReadOnlyCollection<Guid> withEntry, int limit, CancellationToken cancellationToken) =>
        MarkForDispatchAsync(DispatchSql, sentBefore, limit, cancellationToken, [.. withEntry]);

    /// <summary>
    /// DispatchLapsed: marks up to <paramref name="limit"/> running jobs whose lease lapsed (once per lapse, or again
    /// when their entry was sent before <paramref name="sentBefore"/>) as dispatched now, and returns them.
    /// </summary>
    public Task<IReadOnlyList<MarkedDispatch>> MarkLapsedForDispatchAsync(DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken) =>
        MarkForDispatchAsync(DispatchLapsedSql, sentBefore, limit, cancellationToken);

    private async Task<IReadOnlyList<MarkedDispatch>> MarkForDispatchAsync(
        string sql, DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken, Guid[]? withEntry = null)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = sentBefore });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        if (withEntry is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = withEntry });
        }

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
    /// <param name="traceIds">The trace id of each job's run, recorded as its attempt's trace (absent: none recorded).</param>
    internal async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(
        IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, CancellationToken cancellationToken,
        IReadOnlyDictionary<Guid, string>? traceIds = null)
    {
        var ids = jobIds.ToArray();
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        command.Parameters.Add(new NpgsqlParameter { Value = workerId });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        command.Parameters.Add(TraceIdsParameter(ids, traceIds));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new Dictionary<Guid, ClaimedJob>(jobIds.Count);
        while (await reader.ReadAsync(cancellationToken))
        {
            var job = ReadClaimed(reader);
            claimed[job.Id] = job;
        }

        return claimed;
    }

    /// <summary>A row of the Claim statement's RETURNING list.</summary>
    private static ClaimedJob ReadClaimed(NpgsqlDataReader reader) =>
        new ClaimedJob(
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
            reader.FieldOrNull<string[]>("webhook_events") ?? [])
        {
            ResumedWait = ReadWait(reader.FieldOrNull<string>("wait_data")),
            DefinitionHash = reader.FieldOrNull<string>("definition_hash"),
            IsFork = reader.Field<bool>("is_fork"),
            TenantId = reader.Field<string>("tenant_id"),
            ConcurrencyKey = reader.FieldOrNull<string>("concurrency_key"),
            ConcurrencyLimit = reader.FieldOrNull<int?>("concurrency_limit"),
            ServiceTier = new ServiceTierRequest(reader.Field<string>("service_tier"), reader.FieldOrNull<DateTimeOffset?>("deadline")),
        };

    /// <summary>The wait a job was parked on (the Park statement's <c>wait_data</c>), or null.</summary>
    public static RunWait? ReadWait(string? waitData)
    {
        if (waitData is null || JsonNode.Parse(waitData) is not JsonObject wait)
        {
            return null;
        }

        return new RunWait((string)wait["step_id"]!, (string)wait["step_key"]!, (string)wait["kind"]!,
            DateTimeOffset.Parse((string)wait["until"]!, System.Globalization.CultureInfo.InvariantCulture), (string?)wait["event"],
            wait["approval"] as JsonObject, wait["budget"] as JsonObject, wait["batch"] as JsonObject);
    }

    /// <summary>Whether a cancel of the job was accepted (or the job is gone): checked before each paid step starts.</summary>
    internal async Task<bool> StopRequestedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        // A point read on the key: it runs before every paid step of every job, where the array form below costs more.
        await using var command = dataSource.CreateCommand(StopRequestedSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return await command.ExecuteScalarAsync(cancellationToken) is not true;
    }

    /// <summary>Which of the jobs must stop: a cancel was accepted, or the job is gone (deleted).</summary>
    internal async Task<IReadOnlySet<Guid>> StopRequestedAsync(IReadOnlyCollection<Guid> jobIds, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(StopsRequestedSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobIds.ToArray() });
        return await ReadIdsAsync(command, cancellationToken);
    }

    /// <summary>Extends the lease; false when this worker no longer owns the job (it was cancelled or reclaimed).</summary>
    internal async Task<bool> RenewLeaseAsync(Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken) =>
        (await RenewLeasesAsync([jobId], workerId, lease, cancellationToken)).Contains(jobId);

    /// <summary>
    /// Extends the leases of all the jobs a worker runs, in one statement; returns the jobs it still owns (the others
    /// were cancelled, deleted or reclaimed). A job whose row another transaction holds at that moment is not extended
    /// this time, but still counts as owned.
    /// </summary>
    internal async Task<IReadOnlySet<Guid>> RenewLeasesAsync(IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RenewSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobIds.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = workerId });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        return await ReadIdsAsync(command, cancellationToken);
    }

    /// <summary>The statement that gives a job back (worker shutting down): queued again, keeping its checkpoints.</summary>
    /// <param name="attempt">The attempt this run claimed, so a run of an attempt that was taken over (even by the same
    /// worker, after a stall) cannot release the newer one; null for any attempt.</param>
    internal static WriteStatement ReleaseStatement(Guid jobId, string workerId, int? attempt) =>
        new(ReleaseSql,
        [
            new() { Value = jobId },
            new() { Value = workerId },
            new() { Value = (object?)attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer },
        ]);

    /// <summary>The statement that records the running step and the job's progress, for pollers; advisory, so only while the job runs.</summary>
    internal static WriteStatement ProgressStatement(Guid jobId, string stepId, string stepName, int percent) =>
        new(ProgressSql, [new() { Value = jobId }, new() { Value = stepId }, new() { Value = stepName }, new() { Value = percent }]);

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

    /// <summary>The statement that writes a step record, fenced by the job's attempt so a reclaimed run cannot write.</summary>
    /// <remarks>One row of a multi-row statement: the step rows of many jobs in a batch are one INSERT.</remarks>
    internal static WriteStatement StepStatement(Guid jobId, int jobAttempt, StepRecord record, JsonNode? checkpointOutput, bool isCheckpoint) =>
        (isCheckpoint ? CheckpointRows : StepRecordRows).Row(
            (jobId, record.StepKey, jobAttempt),
            jobId, jobAttempt, record.StepKey, record.StepId, record.ParentStepId, record.Branch, record.DisplayName, record.Type,
            record.Status.ToWire(), record.Attempts, record.StartedAt, record.FinishedAt, (int)Math.Round(record.DurationMs),
            JsonText(isCheckpoint ? checkpointOutput : record.Output), JsonText(record.Error is null ? null : JobErrors.ToJson(record.Error)),
            record.Provider, record.Model, record.InputTokens ?? 0, record.OutputTokens ?? 0, record.CostUsd, isCheckpoint,
            record.Notes, JsonText(record.Input), record.RenderedPrompt);

    private static readonly MultiRowColumn[] StepColumns =
    [
        MultiRowColumn.Of<Guid>(NpgsqlDbType.Uuid), MultiRowColumn.Of<int>(NpgsqlDbType.Integer),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<int>(NpgsqlDbType.Integer),
        MultiRowColumn.Of<DateTimeOffset>(NpgsqlDbType.TimestampTz), MultiRowColumn.Of<DateTimeOffset>(NpgsqlDbType.TimestampTz),
        MultiRowColumn.Of<int>(NpgsqlDbType.Integer), MultiRowColumn.Of<string>(NpgsqlDbType.Jsonb),
        MultiRowColumn.Of<string>(NpgsqlDbType.Jsonb), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<int>(NpgsqlDbType.Integer),
        MultiRowColumn.Of<int>(NpgsqlDbType.Integer), MultiRowColumn.Of<decimal?>(NpgsqlDbType.Numeric),
        MultiRowColumn.Of<bool>(NpgsqlDbType.Boolean), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
        MultiRowColumn.Of<string>(NpgsqlDbType.Jsonb), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
    ];

    private const string CheckpointConflict = "output = excluded.output, is_checkpoint = TRUE";

    private const string RecordConflict = "status = excluded.status";

    // A running job's rows: only while it runs the attempt that made them.
    private static readonly string RunningAttempt =
        $"j.attempt = r.job_attempt AND {JobLifecycle.KeyedGuard(JobTransition.Checkpoint, "j.")} OFFSET 0";

    private static readonly MultiRowStatement CheckpointRows = new("step checkpoint", StepSql(CheckpointConflict, RunningAttempt), StepColumns);

    private static readonly MultiRowStatement StepRecordRows = new("step record", StepSql(RecordConflict, RunningAttempt), StepColumns);

    /// <summary>
    /// Step rows of many jobs: each is written only while its job matches <paramref name="jobGuard"/> (running the
    /// attempt that made it: <see cref="JobTransition.Checkpoint"/>); returns the <c>ord</c> of every row written
    /// (inserted or updated).
    /// </summary>
    // One array per column (StepColumns): $1 job ids, $2 attempts, $3 step keys, $4 step ids, $5 parents, $6 branches,
    // $7 display names, $8 types, $9 statuses, $10 attempts, $11 started, $12 finished, $13 durations, $14 outputs, $15 errors,
    // $16 providers, $17 models, $18 input tokens, $19 output tokens, $20 costs, $21 checkpoint flags, $22 notes, $23 inputs,
    // $24 rendered prompts; $25 the rows' ord.
    private static string StepSql(string onConflict, string jobGuard) => $"""
        WITH r AS (
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                 $9::text[], $10::int[], $11::timestamptz[], $12::timestamptz[], $13::int[], $14::jsonb[],
                                 $15::jsonb[], $16::text[], $17::text[], $18::int[], $19::int[], $20::numeric[], $21::bool[],
                                 $22::text[], $23::jsonb[], $24::text[], $25::int[])
                AS r(job_id, job_attempt, step_key, step_id, parent_step_id, branch, display_name, step_type, step_status,
                     attempts, started_at, finished_at, duration_ms, output, error, provider, model, input_tokens,
                     output_tokens, cost_usd, is_checkpoint, notes, input, rendered_prompt, ord)
        ), written AS (
            INSERT INTO llm_job_steps (job_id, job_attempt, step_key, step_id, parent_step_id, branch, display_name, step_type,
                                       status, attempts, started_at, finished_at, duration_ms, output, error, provider, model,
                                       input_tokens, output_tokens, cost_usd, is_checkpoint, notes, input, rendered_prompt)
            SELECT job_id, job_attempt, step_key, step_id, parent_step_id, branch, display_name, step_type, step_status,
                   attempts, started_at, finished_at, duration_ms, output, error, provider, model, input_tokens,
                   output_tokens, cost_usd, is_checkpoint, notes, input, rendered_prompt
              FROM r
             -- OFFSET 0 keeps the EXISTS a per-row primary-key probe (not a join over every running job).
             WHERE EXISTS (SELECT 1 FROM llm_workflow_jobs j WHERE j.id = r.job_id AND {jobGuard})
            ON CONFLICT (job_id, step_key, job_attempt) DO UPDATE SET {onConflict}
            RETURNING job_id, step_key, job_attempt
        )
        SELECT r.ord FROM r JOIN written w ON w.job_id = r.job_id AND w.step_key = r.step_key AND w.job_attempt = r.job_attempt
        """;

    /// <summary>The newest checkpoint of a step from any earlier attempt of the job.</summary>
    internal async Task<(JsonNode? Output, StepRecordRow Row)?> TryGetCheckpointAsync(Guid jobId, string stepKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = stepKey });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var output = reader.FieldOrNull<string>("output") is { } text ? JsonNode.Parse(text) : null;
        var row = new StepRecordRow(
            reader.Field<string>("step_id"), reader.Field<string>("display_name"), reader.Field<string>("step_type"),
            reader.Field<string>("status"), reader.Field<int>("attempts"), reader.Field<DateTimeOffset>("started_at"),
            reader.FieldOrNull<DateTimeOffset?>("finished_at"), reader.FieldOrNull<int?>("duration_ms") ?? 0,
            reader.FieldOrNull<string>("parent_step_id"), reader.FieldOrNull<string>("branch"),
            reader.FieldOrNull<string>("provider"), reader.FieldOrNull<string>("model"),
            reader.Field<int>("input_tokens"), reader.Field<int>("output_tokens"), reader.FieldOrNull<decimal?>("cost_usd"))
        {
            ReusedFromJobId = reader.FieldOrNull<Guid?>("reused_from_job_id"),
        };
        return (output, row);
    }

    /// <summary>
    /// The statement that records one answered LLM call. Its id is chosen by the worker when the answer arrives, so a
    /// write retried after an outage (or whose commit was not acknowledged) can never add a second row for one call.
    /// Not fenced by the lease: a paid call is recorded whoever owns the job now; only a deleted job's is dropped.
    /// One row of a multi-row statement: the usage rows of many calls in a batch are one INSERT.
    /// </summary>
    internal static WriteStatement UsageStatement(Guid usageId, Guid jobId, string stepId, string? workflowName, LlmCallResult call)
    {
        var metadata = new JsonObject
        {
            ["step_id"] = stepId,
            ["workflow_name"] = workflowName,
            ["priced"] = call.Priced,
            ["usage_estimated"] = call.UsageEstimated,
            ["cache_hit"] = call.CacheHit,
            ["prompt_hash"] = call.PromptHash,
            ["attempts"] = new JsonArray(call.Attempts.Select(a => (JsonNode)new JsonObject { ["model"] = a.Model, ["error"] = a.Error, ["duration_ms"] = a.DurationMs }).ToArray()),
        };
        if (call.RequestedServiceTier is { } requested)
        {
            // cost_usd is what was billed (the budgets settle it); the tier and the list price say why it is lower.
            metadata["service_tier"] = call.ServiceTier;
            metadata["requested_service_tier"] = requested;
            metadata["list_cost_usd"] = call.ListCostUsd;
        }

        return UsageRows.Row(usageId,
            usageId, jobId, Truncate(call.Provider, 50), Truncate(call.Model, 100), call.InputTokens, call.OutputTokens,
            call.TotalTokens, call.CostUsd ?? 0m, (int)Math.Round(call.DurationMs), JsonText(metadata));
    }

    // One array per column: $1 usage ids, $2 job ids, $3 providers, $4 models, $5 input, $6 output, $7 total tokens,
    // $8 costs, $9 durations (ms), $10 metadata; $11 the rows' ord.
    private static readonly MultiRowStatement UsageRows = new("usage", """
        WITH r AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::numeric[],
                                 $9::int[], $10::jsonb[], $11::int[])
                AS r(id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata, ord)
        ), written AS (
            INSERT INTO llm_provider_usage (id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
            SELECT id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata
              FROM r
             WHERE EXISTS (SELECT 1 FROM llm_workflow_jobs j WHERE j.id = r.job_id OFFSET 0)
            ON CONFLICT (id) DO NOTHING
            RETURNING id
        )
        SELECT r.ord FROM r JOIN written w ON w.id = r.id
        """,
        [
            MultiRowColumn.Of<Guid>(NpgsqlDbType.Uuid), MultiRowColumn.Of<Guid>(NpgsqlDbType.Uuid),
            MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
            MultiRowColumn.Of<int>(NpgsqlDbType.Integer), MultiRowColumn.Of<int>(NpgsqlDbType.Integer),
            MultiRowColumn.Of<int>(NpgsqlDbType.Integer), MultiRowColumn.Of<decimal>(NpgsqlDbType.Numeric),
            MultiRowColumn.Of<int>(NpgsqlDbType.Integer), MultiRowColumn.Of<string>(NpgsqlDbType.Jsonb),
        ]);

    /// <summary>
    /// The row of the finishing statement for one job: stores the outcome, releases the lease and records the terminal
    /// webhook event. Only the lease owner of a running job can finish it (see <c>JobRunStore.FinishAsync</c>).
    /// </summary>
    /// <remarks>One row of a multi-row statement: the finishes of many jobs in a batch are one statement, each row with
    /// its own guard, so only the rows whose guard fails lose.</remarks>
    internal WriteStatement FinishStatement(Guid jobId, string workerId, JobOutcome outcome, int? attempt) =>
        _finishRows.Row(jobId,
            jobId, workerId, outcome.Status.ToWire(), JsonText(outcome.Result), outcome.ErrorMessage ?? outcome.Error?.Message,
            JsonText(outcome.Error is null ? null : JobErrors.ToJson(outcome.Error)), outcome.InputTokens, outcome.OutputTokens,
            outcome.CostUsd, attempt);

    /// <summary>
    /// The finishing statement, for many jobs at once: <c>job</c> locks each owned running row (the lease owner, the
    /// attempt, the transition's guard for its outcome) and computes its values after the transition, <c>outbox</c>
    /// records the terminal events from them, and the UPDATE writes them and returns the <c>ord</c> of each finished
    /// row. The lock makes a racing transition (a cancel, a reclaim) wait and then re-check its own guard against the
    /// finished row.
    /// </summary>
    // One array per column (FinishColumns): $1 job ids, $2 worker ids, $3 outcomes, $4 results, $5 error messages, $6 errors,
    // $7 input tokens, $8 output tokens, $9 costs, $10 attempts claimed (NULL: any); $11 the rows' ord.
    internal static string FinishSql(int maxPayloadBytes) => $"""
        WITH r AS (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], $7::int[], $8::int[],
                                 $9::numeric[], $10::int[], $11::int[])
                AS r(id, worker, outcome, result_data, error_message, error_data, input_tokens, output_tokens, cost_usd, claimed_attempt,
                     ord)
        ), job AS (
            -- A LATERAL lookup per row (FOR UPDATE keeps it from being flattened into a join) with keyed guards: each row
            -- is one primary-key probe, never a scan of every running job through an index on status.
            -- An accepted cancel wins over the run's own outcome: the job ends cancelled (its usage rows are written anyway).
            SELECT j.id, j.workflow_name, CASE WHEN j.cancel_requested_at IS NULL THEN r.outcome ELSE 'cancelled' END AS status,
                   j.user_id, j.username, j.action, j.attempt, j.webhook_url,
                   CASE WHEN j.cancel_requested_at IS NULL THEN r.result_data END AS result_data,
                   r.error_data, r.error_message, r.input_tokens, r.output_tokens,
                   j.started_at,
                   (EXTRACT(EPOCH FROM (now() - j.started_at)) * 1000)::int AS duration_ms,
                   r.input_tokens + r.output_tokens AS total_tokens, r.cost_usd + {EarlierAttemptsCostSql("j.previous_attempts")} AS cost_usd, r.ord
              FROM r CROSS JOIN LATERAL (
                   SELECT j.id, j.workflow_name, j.user_id, j.username, j.action, j.attempt, j.webhook_url, j.started_at, j.cancel_requested_at,
                          j.previous_attempts
                     FROM llm_workflow_jobs j
                    WHERE j.id = r.id AND j.lease_owner = r.worker AND (r.claimed_attempt IS NULL OR j.attempt = r.claimed_attempt)
                      AND ({OutcomeGuards()})
                      FOR UPDATE) j
        ), outbox AS (
            {WebhookOutbox.TerminalEventsSql("job", maxPayloadBytes)}
        )
        UPDATE llm_workflow_jobs j
           SET status = job.status, result_data = job.result_data, error_message = job.error_message, error_data = job.error_data,
               completed_at = now(), duration_ms = job.duration_ms,
               input_tokens = job.input_tokens, output_tokens = job.output_tokens, total_tokens = job.total_tokens,
               cost_usd = job.cost_usd,
               progress_percent = CASE WHEN job.status = 'completed' THEN 100 ELSE j.progress_percent END,
               current_step_id = CASE WHEN job.status = 'completed' THEN NULL ELSE j.current_step_id END,
               current_step_name = CASE WHEN job.status = 'completed' THEN NULL ELSE j.current_step_name END,
               lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
          FROM job
         -- The ANY keeps the update on the primary key: on a table of a few thousand rows the planner would otherwise
         -- join by reading every row.
         WHERE j.id = job.id AND j.id = ANY(ARRAY(SELECT id FROM job))
        RETURNING job.ord
        """;

    /// <summary>Each outcome may only be stored from the states its transition starts from.</summary>
    private static string OutcomeGuards() => string.Join(" OR ",
        new[] { JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled }
        .Select(outcome => $"(r.outcome = '{outcome.ToWire()}' AND {JobLifecycle.KeyedGuard(JobLifecycle.ForOutcome(outcome), "j.")})"));

    private static readonly MultiRowColumn[] FinishColumns =
    [
        MultiRowColumn.Of<Guid>(NpgsqlDbType.Uuid), MultiRowColumn.Of<string>(NpgsqlDbType.Text),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<string>(NpgsqlDbType.Jsonb),
        MultiRowColumn.Of<string>(NpgsqlDbType.Text), MultiRowColumn.Of<string>(NpgsqlDbType.Jsonb),
        MultiRowColumn.Of<int>(NpgsqlDbType.Integer), MultiRowColumn.Of<int>(NpgsqlDbType.Integer),
        MultiRowColumn.Of<decimal>(NpgsqlDbType.Numeric), MultiRowColumn.Of<int?>(NpgsqlDbType.Integer),
    ];

    /// <summary>A jsonb value as text; text PostgreSQL cannot store (NUL, lone surrogates) is cleaned rather than failing the write.</summary>
    private static string? JsonText(JsonNode? node) => node is null ? null : StorableJson.Clean(node)!.ToJsonString();

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];
}

/// <summary>Reads a returned row's columns by name, so a statement's column order is free to change.</summary>
public static class RowFields
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
    decimal? BudgetUsd, bool DebugMode, int Priority, bool HasWebhook, IReadOnlyList<string> WebhookEvents)
{
    /// <summary>The wait the job was last parked on (its step finds its time came), or null.</summary>
    public RunWait? ResumedWait { get; init; }

    /// <summary>The pinned workflow version the job runs; null for jobs from before pinning (they run the current definition).</summary>
    public string? DefinitionHash { get; init; }

    /// <summary>A fork: its first attempt already has checkpoints (copied from its source).</summary>
    public bool IsFork { get; init; }

    /// <summary>The job's tenant: its steps spend from that tenant's dollar budgets (Tenants:&lt;id&gt;:Budgets).</summary>
    public string? TenantId { get; init; }

    /// <summary>The job's concurrency key (<see cref="WorkflowJob.ConcurrencyKey"/>) and its limit; null without one.</summary>
    public string? ConcurrencyKey { get; init; }

    public int? ConcurrencyLimit { get; init; }

    /// <summary>The job's service tier and deadline (<see cref="WorkflowJob.ServiceTier"/>); null reads as standard.</summary>
    public ServiceTierRequest? ServiceTier { get; init; }
}

/// <summary>The final state a worker writes for a job.</summary>
/// <param name="ErrorMessage">The <c>error_message</c> column; defaults to the error's own message.</param>
/// <summary>What a submit inserted: every job's id, and of them those that wait for a slot from the start (no dispatch).</summary>
public sealed record SubmittedJobs(HashSet<Guid> Inserted, HashSet<Guid> WaitingForSlot);

public sealed record JobOutcome(JobStatus Status, JsonNode? Result, WorkflowError? Error, int InputTokens, int OutputTokens, decimal CostUsd, string? ErrorMessage = null);

/// <summary>A checkpointed step row, turned back into a <see cref="StepRecord"/> by the checkpoint store.</summary>
public sealed record StepRecordRow(
    string StepId, string DisplayName, string Type, string Status, int Attempts, DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt, int DurationMs, string? ParentStepId, string? Branch, string? Provider, string? Model,
    int InputTokens, int OutputTokens, decimal? CostUsd)
{
    /// <summary>In a fork: the source job the row was copied from; its usage was paid there, not by this job.</summary>
    public Guid? ReusedFromJobId { get; init; }
}
