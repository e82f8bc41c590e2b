using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Concurrent jobs per tenant (<c>Tenants:&lt;id&gt;:MaxConcurrentJobs</c>, <see cref="TenantConcurrency"/>): a claim that
/// would take a tenant over its cap parks the job (WaitForSlot) instead of running it, and a job of that tenant
/// leaving <c>processing</c> queues the next one (ResumeForSlot). Both take the tenant's advisory lock first, in the
/// same implicit transaction as the statement that counts the tenant's running jobs: a claim that parks and a release
/// that wakes are serialised per tenant, so neither can miss the other's commit and no wake-up is lost. Tenants without
/// a cap take no lock and use the plain Claim statement.
/// </summary>
public sealed partial class JobLifecycleStore
{
    /// <summary>A slot wait's <c>wait_data.kind</c>.</summary>
    public const string SlotWaitKind = "slot";

    // Locks in the order given (the caller sorts the tenants), so two claims never wait on each other's locks crosswise.
    // $1 tenant ids, sorted.
    private const string LockTenantSlotsSql = """
        SELECT count(pg_advisory_xact_lock(hashtextextended('llmworkflow:slots:' || t.tenant_id, 0))) AS locked
          FROM unnest($1::text[]) WITH ORDINALITY AS t(tenant_id, n)
        """;

    // The tenants of the batch that have a cap, sorted (read before the claim, to lock them).
    // $1 job ids, $2 capped tenant ids.
    private const string CappedTenantsOfJobsSql = """
        SELECT DISTINCT j.tenant_id
          FROM unnest($1::uuid[]) AS r(id) CROSS JOIN LATERAL (SELECT tenant_id FROM llm_workflow_jobs j WHERE j.id = r.id) j
         WHERE j.tenant_id = ANY($2)
         ORDER BY j.tenant_id
        """;

    // The Claim statement with the caps: within the batch, a capped tenant's queued jobs are ranked by priority, then
    // age; those past the cap (counting the tenant's running jobs) are parked as slot waits, the rest claimed. A lapsed
    // job reclaimed here is already counted among the running. A parked job keeps the wait it was resuming from (a
    // sleep's, a signal's) under "resumes", restored by ResumeForSlot; run_at is cleared so the due-time waker leaves it.
    // $1 job ids, $2 worker id, $3 lease (interval), $4 capped tenant ids, $5 their caps, $6 the backstop's recheck time.
    private static readonly string ClaimWithinCapsSql = $"""
        WITH claimable AS (
            SELECT j.id, j.tenant_id, j.status, j.priority, j.queued_at
              FROM unnest($1::uuid[]) AS r(id) CROSS JOIN LATERAL (
                   SELECT j.id, j.tenant_id, j.status, j.priority, j.queued_at FROM llm_workflow_jobs j
                    WHERE j.id = r.id
                      AND ({JobLifecycle.KeyedGuard(JobTransition.Claim, "j.")}
                           OR ({JobLifecycle.KeyedGuard(JobTransition.Reclaim, "j.")} AND j.lease_expires_at < now()))
                      AND j.cancel_requested_at IS NULL
                      FOR UPDATE) j
        ), caps AS (
            SELECT c.tenant_id, c.cap,
                   (SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = c.tenant_id AND w.status = 'processing') AS running
              FROM unnest($4::text[], $5::int[]) AS c(tenant_id, cap)
        ), ranked AS (
            SELECT k.id,
                   COALESCE({JobLifecycle.KeyedGuard(JobTransition.WaitForSlot, "k.")} AND c.running
                            + row_number() OVER (PARTITION BY k.tenant_id, k.status ORDER BY k.priority DESC, k.queued_at, k.id) > c.cap, FALSE) AS over_cap
              FROM claimable k LEFT JOIN caps c ON c.tenant_id = k.tenant_id
        ), held AS (
            UPDATE llm_workflow_jobs j
               SET status = '{JobLifecycle.Rule(JobTransition.WaitForSlot).To.ToWire()}', run_at = NULL, dispatched_at = NULL, updated_at = now(),
                   wait_data = jsonb_build_object('kind', '{SlotWaitKind}', 'step_id', COALESCE(j.wait_data->>'step_id', ''),
                       'step_key', COALESCE(j.wait_data->>'step_key', ''), 'until', $6::timestamptz,
                       'slot', jsonb_build_object('tenant_id', j.tenant_id), 'resumes', j.wait_data)
             WHERE j.id = ANY(ARRAY(SELECT id FROM ranked WHERE over_cap))
            RETURNING j.id
        ), claimed AS (
            UPDATE llm_workflow_jobs j
               SET status = 'processing', lease_owner = $2, worker_id = $2, lease_expires_at = now() + $3,
                   started_at = COALESCE(j.started_at, now()), attempt = j.attempt + 1, updated_at = now()
             WHERE j.id = ANY(ARRAY(SELECT id FROM ranked WHERE NOT over_cap))
            RETURNING j.id, j.workflow_name, j.input_data, j.attempt, j.user_id, j.username, j.action, j.budget_usd, j.debug_mode,
                      j.priority, j.webhook_url IS NOT NULL AS has_webhook, j.webhook_events, j.wait_data,
                      j.definition_hash, j.forked_from_job_id IS NOT NULL AS is_fork, j.tenant_id
        )
        -- One row at least, so the count of held jobs arrives when none was claimed.
        SELECT h.held, c.* FROM (SELECT count(*) AS held FROM held) h LEFT JOIN claimed c ON TRUE
        """;

    // The tenant's free slots (its cap less its running jobs) go to its slot waits, by priority then age, at most $3.
    // $1 tenant id, $2 its cap, $3 at most.
    private static readonly string ResumeForSlotSql = $"""
        WITH free AS (
            SELECT $2 - count(*) AS slots FROM llm_workflow_jobs WHERE tenant_id = $1 AND status = 'processing'
        ), next AS (
            SELECT id FROM llm_workflow_jobs
             WHERE tenant_id = $1 AND status = 'waiting' AND wait_data->>'kind' = '{SlotWaitKind}'
             ORDER BY priority DESC, queued_at, id
             LIMIT GREATEST(LEAST((SELECT slots FROM free), $3), 0)
             FOR UPDATE SKIP LOCKED
        )
        {ResumeForSlotUpdate()}
        """;

    // The backstop (the reconciler's pass) for a release that never ran (its worker died between the finish and the
    // wake): every tenant with slot waits gets its cap less its running and queued jobs; a tenant whose cap was removed
    // gets all. It takes no lock: it only queues jobs, and one queued past the cap is parked again by its claim.
    // $1 capped tenant ids, $2 their caps, $3 at most.
    private static readonly string ResumeFreeSlotsSql = $"""
        WITH tenants AS (
            SELECT DISTINCT tenant_id FROM llm_workflow_jobs WHERE status = 'waiting' AND wait_data->>'kind' = '{SlotWaitKind}'
        ), free AS (
            SELECT t.tenant_id, COALESCE(c.cap, 2147483647)
                   - (SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = t.tenant_id AND w.status IN ('processing', 'queued')) AS slots
              FROM tenants t LEFT JOIN unnest($1::text[], $2::int[]) AS c(tenant_id, cap) ON c.tenant_id = t.tenant_id
        ), next AS (
            SELECT w.id FROM free f CROSS JOIN LATERAL (
                SELECT id FROM llm_workflow_jobs w
                 WHERE w.tenant_id = f.tenant_id AND w.status = 'waiting' AND w.wait_data->>'kind' = '{SlotWaitKind}'
                 ORDER BY priority DESC, queued_at, id
                 LIMIT GREATEST(f.slots, 0)
                 FOR UPDATE SKIP LOCKED) w
             LIMIT $3
        )
        {ResumeForSlotUpdate()}
        """;

    // The end both resume statements share (a method, not a field: the statements above are initialised before it).
    private static string ResumeForSlotUpdate() => $"""
        UPDATE llm_workflow_jobs j
           SET status = '{JobLifecycle.Rule(JobTransition.ResumeForSlot).To.ToWire()}', wait_data = NULLIF(j.wait_data->'resumes', 'null'::jsonb),
               dispatched_at = now(), updated_at = now()
          FROM next WHERE j.id = next.id AND {JobLifecycle.KeyedGuard(JobTransition.ResumeForSlot, "j.")}
        RETURNING j.id, j.priority, j.queued_at AS waiting_since
        """;

    /// <summary>
    /// <see cref="ClaimAsync(IReadOnlyCollection{Guid}, string, TimeSpan, CancellationToken)"/> with the tenants' caps:
    /// jobs past their tenant's cap are parked as slot waits (absent from the result, like jobs another worker runs).
    /// <paramref name="recheckAt"/> is when the reconciler's backstop looks at them at the latest (their <c>until</c>).
    /// </summary>
    internal async Task<(IReadOnlyDictionary<Guid, ClaimedJob> Claimed, int Held)> ClaimWithinCapsAsync(
        IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, TenantConcurrency caps, DateTimeOffset recheckAt, CancellationToken cancellationToken)
    {
        var ids = jobIds.ToArray();
        string[] tenants;
        await using (var find = dataSource.CreateCommand(CappedTenantsOfJobsSql))
        {
            find.Parameters.Add(new NpgsqlParameter { Value = ids });
            find.Parameters.Add(new NpgsqlParameter { Value = caps.Tenants });
            tenants = [.. await ReadStringsAsync(find, "tenant_id", cancellationToken)];
        }

        if (tenants.Length == 0)
        {
            return (await ClaimAsync(jobIds, workerId, lease, cancellationToken), 0);
        }

        // One round trip, one implicit transaction: the locks are held until the claim commits.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockTenantSlotsSql) { Parameters = { new NpgsqlParameter { Value = tenants } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ClaimWithinCapsSql)
        {
            Parameters =
            {
                new NpgsqlParameter { Value = ids },
                new NpgsqlParameter { Value = workerId },
                new NpgsqlParameter { Value = lease },
                new NpgsqlParameter { Value = caps.Tenants },
                new NpgsqlParameter { Value = caps.Limits },
                new NpgsqlParameter { Value = recheckAt.ToUniversalTime() },
            },
        });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var claimed = new Dictionary<Guid, ClaimedJob>(ids.Length);
        var held = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            held = (int)reader.Field<long>("held");
            if (reader.FieldOrNull<Guid?>("id") is not null)
            {
                var job = ReadClaimed(reader);
                claimed[job.Id] = job;
            }
        }

        return (claimed, held);
    }

    /// <summary>
    /// A job of <paramref name="tenantId"/> left <c>processing</c>: queues up to <paramref name="atMost"/> of its slot
    /// waits while it is under <paramref name="cap"/>, under the tenant's lock (see the type's summary). Returns them to dispatch.
    /// </summary>
    internal async Task<IReadOnlyList<MarkedDispatch>> ResumeForSlotAsync(string tenantId, int cap, int atMost, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockTenantSlotsSql) { Parameters = { new NpgsqlParameter { Value = new[] { tenantId } } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ResumeForSlotSql)
        {
            Parameters = { new NpgsqlParameter { Value = tenantId }, new NpgsqlParameter { Value = cap }, new NpgsqlParameter { Value = atMost } },
        });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await ReadMarkedAsync(reader, cancellationToken);
    }

    /// <summary>The reconciler's backstop (see <see cref="ResumeFreeSlotsSql"/>): returns the jobs queued, to dispatch.</summary>
    internal async Task<IReadOnlyList<MarkedDispatch>> ResumeFreeSlotsAsync(TenantConcurrency caps, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ResumeFreeSlotsSql);
        command.Parameters.Add(new NpgsqlParameter { Value = caps.Tenants });
        command.Parameters.Add(new NpgsqlParameter { Value = caps.Limits });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadMarkedAsync(reader, cancellationToken);
    }

    private static async Task<IReadOnlyList<MarkedDispatch>> ReadMarkedAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var resumed = new List<MarkedDispatch>();
        while (await reader.ReadAsync(cancellationToken))
        {
            resumed.Add(new MarkedDispatch(new JobDispatch(reader.Field<Guid>("id"), reader.Field<int>("priority")), reader.Field<DateTimeOffset>("waiting_since")));
        }

        return resumed;
    }

    private static async Task<List<string>> ReadStringsAsync(NpgsqlCommand command, string column, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var values = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.Field<string>(column));
        }

        return values;
    }
}
