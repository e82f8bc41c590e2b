using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Slots: concurrent jobs per tenant (<c>Tenants:&lt;id&gt;:MaxConcurrentJobs</c>, <see cref="TenantConcurrency"/>) and per
/// concurrency key (a workflow's <c>concurrency</c>, resolved per job at submission). A claim that would take a tenant
/// or a key over its limit parks the job (WaitForSlot) instead of running it, and a job leaving <c>processing</c>
/// queues the next one of its tenant and of its key (ResumeForSlot). Both take the advisory locks of the tenant and
/// key first, in the same implicit transaction as the statement that counts their running jobs: a claim that parks and
/// a release that wakes are serialised, so neither can miss the other's commit and no wake-up is lost. A job parked
/// records what held it (<c>slot.by</c>: tenant, key, both, or share), so each release and backstop wakes only jobs it
/// can free. With <c>Worker:TenantSlotShares</c> the claim also parks a job past its tenant's weighted share of the
/// workers' slots (<c>share</c>), and any job leaving <c>processing</c> queues a held job of the tenant furthest below
/// its share. Without caps, keys or shares the worker uses the plain Claim statement.
/// </summary>
public sealed partial class JobLifecycleStore
{
    /// <summary>A slot wait's <c>wait_data.kind</c>.</summary>
    public const string SlotWaitKind = "slot";

    // The advisory lock names of a tenant's and a key's slots (LockSlotsOfJobsSql builds the same names in SQL).
    private static string TenantSlotLock(string tenantId) => $"llmworkflow:slots:t:{tenantId}";

    private static string KeySlotLock(string concurrencyKey) => $"llmworkflow:slots:k:{concurrencyKey}";

    // The advisory locks of the tenants (capped ones) and concurrency keys of the batch's jobs, taken in name order so
    // two claims never wait on each other crosswise; held until the batch's implicit transaction ends.
    // With shares every tenant's claims are counted, so every tenant of the batch is locked.
    // $1 job ids, $2 capped tenant ids, $3 whether shares are on.
    private const string LockSlotsOfJobsSql = """
        SELECT count(pg_advisory_xact_lock(hashtextextended(l.name, 0))) AS locked FROM (
            SELECT DISTINCT n.name
              FROM unnest($1::uuid[]) AS r(id)
              CROSS JOIN LATERAL (SELECT tenant_id, concurrency_key FROM llm_workflow_jobs j WHERE j.id = r.id) j
              CROSS JOIN LATERAL (VALUES (CASE WHEN $3 OR j.tenant_id = ANY($2) THEN 'llmworkflow:slots:t:' || j.tenant_id END),
                                         ('llmworkflow:slots:k:' || j.concurrency_key)) AS n(name)
             WHERE n.name IS NOT NULL
             ORDER BY n.name) l
        """;

    // The same locks by name (the caller sorts them).
    // $1 lock names.
    private const string LockSlotsSql = """
        SELECT count(pg_advisory_xact_lock(hashtextextended(n.name, 0))) AS locked FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i)
        """;

    // The Claim statement with the limits: within the batch, a capped tenant's queued jobs, and a key's, are ranked by
    // priority, then age; a job past its tenant's cap or its key's limit (counting their running jobs) is parked as a
    // slot wait, the rest claimed. A lapsed job reclaimed here is already counted among the running. A parked job keeps
    // the wait it was resuming from (a sleep's, a signal's) under "resumes", restored by ResumeForSlot; run_at is
    // cleared so the due-time waker leaves it.
    // $1 job ids, $2 worker id, $3 lease (interval), $4 capped tenant ids, $5 their caps, $6 the backstop's recheck time,
    // $7 each run's trace id.
    private static readonly string ClaimWithinLimitsSql = ClaimWithinLimits(withShares: false);

    // The same with the tenants' shares of the slots: a job past its tenant's share (counting its running jobs) is
    // parked too. A job held by its cap or key as well as its share records the cap or key: their release wakes it,
    // and its claim parks it again while its tenant is still past its share.
    // $1-$6 as above, $7 the workers' slots, $8 tenants with a weight, $9 their weights, $10 each run's trace id.
    private static readonly string ClaimWithinSharesSql = ClaimWithinLimits(withShares: true);

    // The two claims with limits: the one without shares is the statement as it was before them.
    private static string ClaimWithinLimits(bool withShares) => $"""
        WITH {(withShares ? "RECURSIVE " : "")}claimable AS (
            {ClaimableJobsSql("j.id, j.tenant_id, j.status, j.priority, j.queued_at, j.concurrency_key, j.concurrency_limit")}
        ), caps AS (
            SELECT c.tenant_id, c.cap,
                   (SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = c.tenant_id AND w.status = 'processing') AS running
              FROM unnest($4::text[], $5::int[]) AS c(tenant_id, cap)
        ), keyed AS (
            SELECT q.concurrency_key,
                   (SELECT count(*) FROM llm_workflow_jobs w WHERE w.concurrency_key = q.concurrency_key AND w.status = 'processing') AS running
              FROM (SELECT DISTINCT concurrency_key FROM claimable WHERE concurrency_key IS NOT NULL) q
        ), {(withShares ? $"""
            {WaitingTenantsSql("$8", "$9")}, shares AS (
                SELECT b.tenant_id, {ShareSql("$7", "b")} AS share,
                       (SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = b.tenant_id AND w.status = 'processing') AS running
                  FROM (SELECT DISTINCT k.tenant_id, COALESCE(w.weight, 1) AS weight FROM claimable k LEFT JOIN weights w ON w.tenant_id = k.tenant_id) b
            ),
            """ : "")} ranked AS (
            SELECT k.id, k.status,
                   COALESCE(c.running + row_number() OVER (PARTITION BY k.tenant_id, k.status ORDER BY k.priority DESC, k.queued_at, k.id) > c.cap, FALSE) AS over_tenant,
                   COALESCE(q.running + row_number() OVER (PARTITION BY k.concurrency_key, k.status ORDER BY k.priority DESC, k.queued_at, k.id)
                            > k.concurrency_limit, FALSE) AS over_key,
                   {(withShares ? "COALESCE(s.running + row_number() OVER (PARTITION BY k.tenant_id, k.status ORDER BY k.priority DESC, k.queued_at, k.id) > s.share, FALSE)" : "FALSE")} AS over_share
              FROM claimable k LEFT JOIN caps c ON c.tenant_id = k.tenant_id LEFT JOIN keyed q ON q.concurrency_key = k.concurrency_key
                   {(withShares ? "LEFT JOIN shares s ON s.tenant_id = k.tenant_id" : "")}
        ), decided AS (
            SELECT id, {JobLifecycle.KeyedGuard(JobTransition.WaitForSlot)} AND (over_tenant OR over_key OR over_share) AS held,
                   CASE WHEN over_tenant AND over_key THEN 'both' WHEN over_tenant THEN 'tenant' WHEN over_key THEN 'key' ELSE 'share' END AS held_by
              FROM ranked
        ), held AS (
            UPDATE llm_workflow_jobs j
               SET status = '{JobLifecycle.Rule(JobTransition.WaitForSlot).To.ToWire()}', run_at = NULL, dispatched_at = NULL, updated_at = now(),
                   wait_data = jsonb_build_object('kind', '{SlotWaitKind}', 'step_id', COALESCE(j.wait_data->>'step_id', ''),
                       'step_key', COALESCE(j.wait_data->>'step_key', ''), 'until', $6::timestamptz,
                       'slot', jsonb_build_object('by', (SELECT d.held_by FROM decided d WHERE d.id = j.id), 'tenant_id', j.tenant_id,
                                                  'concurrency_key', j.concurrency_key, 'at', 'claim'),
                       'resumes', j.wait_data)
             WHERE j.id = ANY(ARRAY(SELECT id FROM decided WHERE held))
            RETURNING j.id
        ), claimed AS (
            {ClaimJobsSql("SELECT id FROM decided WHERE NOT held", traces: withShares ? "$10" : "$7")}
        )
        -- One row at least, so the count of held jobs arrives when none was claimed.
        SELECT h.held, c.* FROM (SELECT count(*) AS held FROM held) h LEFT JOIN claimed c ON TRUE
        """;

    // The tenant's free slots (its cap less its running jobs) go to the jobs its cap held, by priority then age, at most $3.
    // $1 tenant id, $2 its cap, $3 at most.
    private static readonly string ResumeForTenantSlotSql = ResumeForOneSlotSql("tenant_id", HeldBy("", "tenant"));

    // The key's free slots (its limit less its running jobs) go to the jobs its limit held, by priority then age, at most $3.
    // $1 concurrency key, $2 its limit, $3 at most.
    private static readonly string ResumeForKeySlotSql = ResumeForOneSlotSql("concurrency_key", HeldBy("", "key"));

    // The backstop (the reconciler's pass) for a release that never ran (its worker died between the end and the
    // wake): every tenant with jobs its cap held gets its cap less its running and queued jobs; a tenant whose cap was
    // removed gets all. It takes no lock: it only queues jobs, and one queued past a limit is parked again by its claim.
    // $1 capped tenant ids, $2 their caps, $3 at most.
    private static readonly string ResumeFreeTenantSlotsSql = $"""
        WITH tenants AS (
            SELECT DISTINCT tenant_id FROM llm_workflow_jobs
             WHERE status = 'waiting' AND wait_data->>'kind' = '{SlotWaitKind}' AND {HeldBy("", "tenant")}
        ), free AS (
            SELECT t.tenant_id, COALESCE(c.cap, 2147483647)
                   - (SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = t.tenant_id AND w.status IN ('processing', 'queued')) AS slots
              FROM tenants t LEFT JOIN unnest($1::text[], $2::int[]) AS c(tenant_id, cap) ON c.tenant_id = t.tenant_id
        ), next AS (
            SELECT w.id FROM free f CROSS JOIN LATERAL (
                SELECT id FROM llm_workflow_jobs w
                 WHERE w.tenant_id = f.tenant_id AND w.status = 'waiting' AND w.wait_data->>'kind' = '{SlotWaitKind}' AND {HeldBy("w.", "tenant")}
                 ORDER BY priority DESC, queued_at, id
                 LIMIT GREATEST(f.slots, 0)
                 FOR UPDATE SKIP LOCKED) w
             LIMIT $3
        )
        {ResumeForSlotUpdate()}
        """;

    // The same backstop for keys: each key with jobs its limit held gets its limit less its running and queued jobs.
    // $1 at most.
    private static readonly string ResumeFreeKeySlotsSql = $"""
        WITH keys AS (
            SELECT DISTINCT concurrency_key, concurrency_limit FROM llm_workflow_jobs
             WHERE status = 'waiting' AND wait_data->>'kind' = '{SlotWaitKind}' AND {HeldBy("", "key")} AND concurrency_key IS NOT NULL
        ), free AS (
            SELECT k.concurrency_key, k.concurrency_limit
                   - (SELECT count(*) FROM llm_workflow_jobs w WHERE w.concurrency_key = k.concurrency_key AND w.status IN ('processing', 'queued')) AS slots
              FROM keys k
        ), next AS (
            SELECT w.id FROM free f CROSS JOIN LATERAL (
                SELECT id FROM llm_workflow_jobs w
                 WHERE w.concurrency_key = f.concurrency_key AND w.status = 'waiting' AND w.wait_data->>'kind' = '{SlotWaitKind}'
                   AND {HeldBy("w.", "key")}
                 ORDER BY priority DESC, queued_at, id
                 LIMIT GREATEST(f.slots, 0)
                 FOR UPDATE SKIP LOCKED) w
             LIMIT $1
        )
        {ResumeForSlotUpdate()}
        """;

    // A job left `processing` with shares on: the freed slot goes to the tenant furthest below its share (the lowest
    // running and queued jobs over its share, while under it) among those whose share held jobs, by priority then age.
    // No lock: it only queues, and a job queued past its share is parked again by its claim.
    // $1 the workers' slots, $2 tenants with a weight, $3 their weights, $4 at most.
    private static readonly string ResumeForShareSlotSql = $"""
        WITH RECURSIVE {WaitingTenantsSql("$2", "$3")}, owed AS (
            SELECT o.tenant_id, {ShareSql("$1", "o")} AS share, {TakenSlotsSql("o")} AS taken FROM waiting o WHERE o.held
        ), next AS (
            SELECT w.id FROM (SELECT * FROM owed WHERE taken < share ORDER BY taken::numeric / share, tenant_id LIMIT 1) f
             CROSS JOIN LATERAL ({ShareWaitsSql("f", "LEAST(f.share - f.taken, $4)")}) w
        )
        {ResumeForSlotUpdate()}
        """;

    // The backstop for shares: each tenant whose share held jobs gets its share less its running and queued jobs.
    // $1 the workers' slots, $2 tenants with a weight, $3 their weights, $4 at most.
    private static readonly string ResumeFreeShareSlotsSql = $"""
        WITH RECURSIVE {WaitingTenantsSql("$2", "$3")}, free AS (
            SELECT o.tenant_id, {ShareSql("$1", "o")} - {TakenSlotsSql("o")} AS slots FROM waiting o WHERE o.held
        ), next AS (
            SELECT w.id FROM free f CROSS JOIN LATERAL ({ShareWaitsSql("f", "GREATEST(f.slots, 0)")}) w
             LIMIT $4
        )
        {ResumeForSlotUpdate()}
        """;

    // The backstop with shares off (the setting was removed): every job a share held is queued. It reads only the slot
    // waits' partial index, so a worker without shares pays for no tenant scan on each pass.
    // $1 at most.
    private static readonly string ReleaseShareWaitsSql = $"""
        WITH next AS (
            SELECT id FROM llm_workflow_jobs w
             WHERE w.status = 'waiting' AND w.wait_data->>'kind' = '{SlotWaitKind}' AND w.wait_data->'slot'->>'by' = 'share'
             ORDER BY tenant_id, priority DESC, queued_at, id
             LIMIT $1
             FOR UPDATE SKIP LOCKED
        )
        {ResumeForSlotUpdate()}
        """;

    // The tenants with jobs waiting for a worker (queued, or held by their share: `held`) and their weights ($weights,
    // else 1), for the shares. The tenants are found by a skip scan of a tenant_id index, one probe per tenant that has
    // jobs, and each is checked by two index probes: a backlog of thousands costs what one job costs.
    private static string WaitingTenantsSql(string weightTenants, string weights) => $"""
        tenant_ids AS (
            SELECT min(tenant_id) AS tenant_id FROM llm_workflow_jobs
            UNION ALL
            SELECT (SELECT min(j.tenant_id) FROM llm_workflow_jobs j WHERE j.tenant_id > t.tenant_id) FROM tenant_ids t WHERE t.tenant_id IS NOT NULL
        ), weights AS (
            SELECT tenant_id, weight FROM unnest({weightTenants}::text[], {weights}::numeric[]) AS w(tenant_id, weight)
        ), waiting AS (
            SELECT t.tenant_id, t.held, COALESCE(w.weight, 1) AS weight FROM (
                -- Each probe is ordered as its tenant's index is, so that it is the one used: unordered, the planner
                -- reads the queued (or waiting) jobs of every tenant for each tenant, expecting an early match.
                SELECT t.tenant_id,
                       (SELECT TRUE FROM llm_workflow_jobs q WHERE q.tenant_id = t.tenant_id AND q.status = 'queued'
                         ORDER BY q.status, q.created_at LIMIT 1) IS NOT NULL AS queued,
                       (SELECT TRUE FROM llm_workflow_jobs s WHERE s.tenant_id = t.tenant_id AND s.status = 'waiting'
                           AND s.wait_data->>'kind' = '{SlotWaitKind}' AND s.wait_data->'slot'->>'by' = 'share'
                         ORDER BY s.priority DESC, s.queued_at, s.id LIMIT 1) IS NOT NULL AS held
                  FROM tenant_ids t WHERE t.tenant_id IS NOT NULL) t
              LEFT JOIN weights w ON w.tenant_id = t.tenant_id
             WHERE t.queued OR t.held
        )
        """;

    // A tenant's share of the slots (`alias` has its tenant_id and weight): ceil(slots × w / (w + the weights of the
    // other waiting tenants)); all of them while no other tenant waits.
    private static string ShareSql(string slots, string alias) =>
        $"CEIL({slots}::int * {alias}.weight / ({alias}.weight + COALESCE((SELECT sum(x.weight) FROM waiting x WHERE x.tenant_id <> {alias}.tenant_id), 0)))::int";

    // A tenant's jobs that hold a worker's slot or are on their way to one.
    private static string TakenSlotsSql(string alias) =>
        $"(SELECT count(*) FROM llm_workflow_jobs w WHERE w.tenant_id = {alias}.tenant_id AND w.status IN ('processing', 'queued'))";

    // The next jobs a tenant's share held, by priority then age.
    private static string ShareWaitsSql(string alias, string limit) => $"""
        SELECT id FROM llm_workflow_jobs w
         WHERE w.tenant_id = {alias}.tenant_id AND w.status = 'waiting' AND w.wait_data->>'kind' = '{SlotWaitKind}' AND w.wait_data->'slot'->>'by' = 'share'
         ORDER BY priority DESC, queued_at, id
         LIMIT {limit}
         FOR UPDATE SKIP LOCKED
        """;

    // The slot waits a release of `limit` (tenant: a capped tenant's, key: a key's) may free: those it held alone or with
    // the other (`both`), not those only the other or a share held.
    private static string HeldBy(string prefix, string limit) =>
        $"COALESCE({prefix}wait_data->'slot'->>'by', '') NOT IN ('{(limit == "tenant" ? "key" : "tenant")}', 'share')";

    // The two release statements differ only in the column their slots are counted by (each has its index).
    private static string ResumeForOneSlotSql(string column, string heldBy) => $"""
        WITH free AS (
            SELECT $2 - count(*) AS slots FROM llm_workflow_jobs WHERE {column} = $1 AND status = 'processing'
        ), next AS (
            SELECT id FROM llm_workflow_jobs
             WHERE {column} = $1 AND status = 'waiting' AND wait_data->>'kind' = '{SlotWaitKind}'
               AND {heldBy}
             ORDER BY priority DESC, queued_at, id
             LIMIT GREATEST(LEAST((SELECT slots FROM free), $3), 0)
             FOR UPDATE SKIP LOCKED
        )
        {ResumeForSlotUpdate()}
        """;

    // The end every resume statement shares (a method, not a field: the statements above are initialised before it).
    private static string ResumeForSlotUpdate() => $"""
        UPDATE llm_workflow_jobs j
           SET status = '{JobLifecycle.Rule(JobTransition.ResumeForSlot).To.ToWire()}', wait_data = NULLIF(j.wait_data->'resumes', 'null'::jsonb),
               dispatched_at = now(), updated_at = now()
          FROM next WHERE j.id = next.id AND {JobLifecycle.KeyedGuard(JobTransition.ResumeForSlot, "j.")}
        RETURNING j.id, j.priority, j.queued_at AS waiting_since
        """;

    /// <summary>
    /// <see cref="ClaimAsync(IReadOnlyCollection{Guid}, string, TimeSpan, CancellationToken)"/> with the tenants' caps and
    /// the jobs' concurrency keys, and the tenants' <paramref name="shares"/> of the slots when on: jobs past a limit are
    /// parked as slot waits (absent from the result, like jobs another worker runs). <paramref name="recheckAt"/> is when
    /// the reconciler's backstop looks at them at the latest.
    /// </summary>
    internal async Task<(IReadOnlyDictionary<Guid, ClaimedJob> Claimed, int Held)> ClaimWithinLimitsAsync(
        IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, TenantConcurrency caps, SlotShares? shares, DateTimeOffset recheckAt,
        CancellationToken cancellationToken, IReadOnlyDictionary<Guid, string>? traceIds = null)
    {
        var ids = jobIds.ToArray();
        // One round trip, one implicit transaction: the locks are held until the claim commits, and the claim, a
        // statement of its own, counts with a snapshot taken after they were granted.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockSlotsOfJobsSql)
        {
            Parameters = { new NpgsqlParameter { Value = ids }, new NpgsqlParameter { Value = caps.Tenants }, new NpgsqlParameter { Value = shares is not null } },
        });
        var claim = new NpgsqlBatchCommand(shares is null ? ClaimWithinLimitsSql : ClaimWithinSharesSql)
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
        };
        if (shares is not null)
        {
            claim.Parameters.AddRange(SharesParameters(shares));
        }

        claim.Parameters.Add(TraceIdsParameter(ids, traceIds));

        batch.BatchCommands.Add(claim);
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
    /// A job left <c>processing</c>: queues the next job its tenant's cap (<paramref name="tenantCap"/>, when capped) and
    /// its key's limit held, while they are under them, under their locks (see the type's summary), and with
    /// <paramref name="shares"/> the next job a share held of the tenant furthest below its share. Returns them to dispatch.
    /// </summary>
    internal async Task<IReadOnlyList<MarkedDispatch>> ResumeForSlotAsync(
        string? tenantId, int? tenantCap, string? concurrencyKey, int? keyLimit, SlotShares? shares, CancellationToken cancellationToken)
    {
        var locks = new List<string>(2);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockSlotsSql));
        if (concurrencyKey is not null && keyLimit is { } limit)
        {
            locks.Add(KeySlotLock(concurrencyKey));
            batch.BatchCommands.Add(new NpgsqlBatchCommand(ResumeForKeySlotSql)
            {
                Parameters = { new NpgsqlParameter { Value = concurrencyKey }, new NpgsqlParameter { Value = limit }, new NpgsqlParameter { Value = 1 } },
            });
        }

        if (tenantId is not null && tenantCap is { } cap)
        {
            locks.Add(TenantSlotLock(tenantId));
            batch.BatchCommands.Add(new NpgsqlBatchCommand(ResumeForTenantSlotSql)
            {
                Parameters = { new NpgsqlParameter { Value = tenantId }, new NpgsqlParameter { Value = cap }, new NpgsqlParameter { Value = 1 } },
            });
        }

        if (shares is not null)
        {
            batch.BatchCommands.Add(SharesCommand(ResumeForShareSlotSql, shares, 1));
        }

        if (batch.BatchCommands.Count == 1)
        {
            return [];
        }

        batch.BatchCommands[0].Parameters.Add(new NpgsqlParameter { Value = locks.Order(StringComparer.Ordinal).ToArray() });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var resumed = new List<MarkedDispatch>();
        while (await reader.NextResultAsync(cancellationToken))
        {
            resumed.AddRange(await ReadMarkedAsync(reader, cancellationToken));
        }

        return resumed;
    }

    /// <summary>
    /// The reconciler's backstop (see <see cref="ResumeFreeTenantSlotsSql"/>, <see cref="ResumeFreeShareSlotsSql"/>; null
    /// <paramref name="shares"/>: off): returns the jobs queued, to dispatch.
    /// </summary>
    internal async Task<IReadOnlyList<MarkedDispatch>> ResumeFreeSlotsAsync(TenantConcurrency caps, SlotShares? shares, int limit, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ResumeFreeTenantSlotsSql)
        {
            Parameters = { new NpgsqlParameter { Value = caps.Tenants }, new NpgsqlParameter { Value = caps.Limits }, new NpgsqlParameter { Value = limit } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ResumeFreeKeySlotsSql) { Parameters = { new NpgsqlParameter { Value = limit } } });
        batch.BatchCommands.Add(shares is null
            ? new NpgsqlBatchCommand(ReleaseShareWaitsSql) { Parameters = { new NpgsqlParameter { Value = limit } } }
            : SharesCommand(ResumeFreeShareSlotsSql, shares, limit));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var resumed = new List<MarkedDispatch>();
        do
        {
            resumed.AddRange(await ReadMarkedAsync(reader, cancellationToken));
        }
        while (await reader.NextResultAsync(cancellationToken));

        return resumed;
    }

    // The workers' slots, the tenants with a weight and their weights, as the share statements take them.
    private static NpgsqlParameter[] SharesParameters(SlotShares shares) =>
    [
        new NpgsqlParameter { Value = shares.TotalSlots, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer },
        new NpgsqlParameter { Value = shares.Tenants },
        new NpgsqlParameter { Value = shares.Weights },
    ];

    // A share statement: the shares' parameters, then at most how many jobs it queues.
    private static NpgsqlBatchCommand SharesCommand(string sql, SlotShares shares, int limit)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(SharesParameters(shares));
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        return command;
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
}
