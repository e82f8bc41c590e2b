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

/// <summary>The Submit transitions (queued, scheduled, or waiting for a slot): the jobs of a batch in one multi-row INSERT.</summary>
public sealed partial class JobLifecycleStore
{
    // One array per column, one element per job: $1 ids, $2 workflow names, $3 priorities, $4 webhook URLs, $5 webhook secrets,
    // $6 webhook events (jsonb), $7 user ids, $8 usernames, $9 actions, $10 inputs, $11 debug modes, $12 budgets, $13 idempotency
    // keys, $14 created at, $15 tenants, $16 trace ids, $17 run at, $18 schedule ids, $19 definition digests (bytea), $20 idempotency
    // fingerprints, $21 idempotent responses, $22 concurrency keys, $23 concurrency limits, $24 service tiers, $25 deadlines,
    // $26 start-by times (ttl_seconds); within limits also $27 capped tenant ids, $28 their caps, $29 the slot waits' recheck time.
    // `r` is the submissions with `slot_by`: null, or what holds the job from the start (SubmitForSlot: tenant, key or both).
    private static string SubmitSql(bool withinLimits) => $"""
        WITH u AS (
            SELECT u.*, EXISTS (SELECT 1 FROM llm_workflow_pauses p WHERE p.workflow_name = u.workflow_name) AS held
              FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::text[],
                          $10::jsonb[], $11::bool[], $12::numeric[], $13::text[], $14::timestamptz[], $15::text[], $16::text[],
                          $17::timestamptz[], $18::uuid[], $19::bytea[], $20::text[], $21::json[], $22::text[], $23::int[], $24::text[],
                          $25::timestamptz[], $26::timestamptz[])
                   AS u(id, workflow_name, priority, webhook_url, webhook_secret, webhook_events, user_id, username, action,
                        input_data, debug_mode, budget_usd, idempotency_key, created_at, tenant_id, trace_id, run_at, schedule_id, definition_digest,
                        idempotency_fingerprint, idempotent_response, concurrency_key, concurrency_limit, service_tier, deadline, start_by)
        ), r AS (
            {(withinLimits ? SubmitSlots() : "SELECT u.*, NULL::text AS slot_by FROM u")}
        )
        INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, webhook_url, webhook_secret, webhook_events,
                                       user_id, username, action, status, input_data, debug_mode, budget_usd, idempotency_key,
                                       queued_at, dispatched_at, created_at, updated_at, tenant_id, trace_id, run_at, schedule_id, definition_digest,
                                       idempotency_fingerprint, idempotent_response, concurrency_key, concurrency_limit, wait_data,
                                       service_tier, deadline, start_by)
        SELECT r.id, r.id::text, r.workflow_name, r.priority, r.webhook_url, r.webhook_secret,
               CASE WHEN r.webhook_events IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.webhook_events)) END,
               r.user_id, r.username, r.action,
               CASE WHEN r.run_at IS NOT NULL OR r.held THEN '{JobLifecycle.Rule(JobTransition.SubmitScheduled).To.ToWire()}'
                    WHEN r.slot_by IS NOT NULL THEN '{JobLifecycle.Rule(JobTransition.SubmitForSlot).To.ToWire()}'
                    ELSE '{JobLifecycle.Rule(JobTransition.Submit).To.ToWire()}' END,
               r.input_data, r.debug_mode, r.budget_usd, r.idempotency_key,
               COALESCE(r.run_at, r.created_at), CASE WHEN r.run_at IS NULL AND NOT r.held AND r.slot_by IS NULL THEN r.created_at END,
               r.created_at, r.created_at,
               r.tenant_id, r.trace_id, COALESCE(r.run_at, CASE WHEN r.held THEN r.created_at END), r.schedule_id, r.definition_digest,
               r.idempotency_fingerprint, r.idempotent_response, r.concurrency_key, r.concurrency_limit,
               {(withinLimits ? SubmitSlotWait() : "NULL::jsonb")},
               COALESCE(r.service_tier, 'standard'), r.deadline, r.start_by
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
                               FROM unnest($27::text[], $28::int[]) AS c(tenant_id, cap)) c ON c.tenant_id = u.tenant_id
                  LEFT JOIN (SELECT q.concurrency_key,
                                    (SELECT count(*) FROM llm_workflow_jobs w WHERE w.concurrency_key = q.concurrency_key AND w.status IN ('queued', 'processing')) AS taken
                               FROM (SELECT DISTINCT concurrency_key FROM u WHERE concurrency_key IS NOT NULL) q) k ON k.concurrency_key = u.concurrency_key) v
        """;

    // The slot wait of a job held from the start, as a claim's WaitForSlot writes it (nothing to resume).
    private static string SubmitSlotWait() => $"""
        CASE WHEN r.slot_by IS NOT NULL THEN jsonb_build_object('kind', '{SlotWaitKind}', 'step_id', '', 'step_key', '', 'until', $29::timestamptz,
                  'slot', jsonb_build_object('by', r.slot_by, 'tenant_id', r.tenant_id, 'concurrency_key', r.concurrency_key, 'at', 'submit'),
                  'resumes', NULL) END
        """;

    private static readonly string PlainSubmitSql = SubmitSql(withinLimits: false);
    private static readonly string SubmitWithinLimitsSql = SubmitSql(withinLimits: true);


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
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.DefinitionDigest).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        p.Add(Texts(jobs.Select(j => j.IdempotencyFingerprint)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.IdempotentResponse).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
        p.Add(Texts(jobs.Select(j => j.ConcurrencyKey)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.ConcurrencyLimit).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        p.Add(Texts(jobs.Select(j => j.ServiceTier)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Deadline).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.StartBy).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
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
}
