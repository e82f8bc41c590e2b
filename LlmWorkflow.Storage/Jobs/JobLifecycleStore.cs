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
/// its <see cref="JobLifecycle"/> guard. This file holds a job's own path: dispatch marks, claim, renew,
/// release, progress; <c>JobLifecycleStore.Submit.cs</c> the submit; <c>JobLifecycleStore.RunWrites.cs</c> a run's step
/// and usage rows and its finish (Finish, Fail, FinishCancelled); <c>JobLifecycleStore.Commands.cs</c> the transitions callers and operators start: cancel, retry, delete, stale
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

    // Each id is one primary-key probe (a LATERAL lookup with FOR UPDATE is never flattened into a join): with
    // `id = ANY($1)` alone the prepared (generic) plan scanned every queued job through the partial index on status.
    // The ids of $1 that may be claimed, locked, with `columns`: shared with the claim that enforces limits.
    // A job past its ttl (start_by) that never started is refused here: only the claim can promise it never starts late
    // (the expiry's pass may come after another worker's read of its stream entry), at the cost of three column tests.
    internal static string ClaimableJobsSql(string columns) => $"""
        SELECT {columns}
          FROM unnest($1::uuid[]) AS r(id) CROSS JOIN LATERAL (
               SELECT {columns} FROM llm_workflow_jobs j
                WHERE j.id = r.id
                  AND ({JobLifecycle.KeyedGuard(JobTransition.Claim, "j.")}
                       OR ({JobLifecycle.KeyedGuard(JobTransition.Reclaim, "j.")} AND j.lease_expires_at < now()))
                  AND j.cancel_requested_at IS NULL
                  AND (j.start_by IS NULL OR j.started_at IS NOT NULL OR j.start_by > now())
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
               attempt_traces = {ClaimedAttemptTraces($"({traces}::text[])[array_position($1::uuid[], j.id)]")}
         WHERE j.id = ANY(ARRAY({ids}))
        RETURNING j.id, j.workflow_name, j.input_data, j.attempt, j.user_id, j.username, j.action, j.budget_usd, j.debug_mode,
                  j.priority, j.webhook_url IS NOT NULL AS has_webhook, j.webhook_events, j.wait_data,
                  j.definition_digest, j.definition_hash, j.forked_from_job_id IS NOT NULL AS is_fork, j.tenant_id, j.concurrency_key, j.concurrency_limit,
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
    /// <summary>
    /// Claims jobs in one statement: each queued one, or processing one whose lease lapsed (its worker died). Jobs
    /// that are finished, cancelled, owned by a live worker or missing are simply absent from the result.
    /// </summary>
    /// <param name="traceIds">The trace id of each job's run, recorded as its attempt's trace (absent: none recorded).</param>
    internal async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(
        IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, CancellationToken cancellationToken,
        IReadOnlyDictionary<Guid, string>? traceIds = null)
    {
        await using var command = ClaimCommand(ClaimSql, jobIds, workerId, lease, traceIds);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new Dictionary<Guid, ClaimedJob>(jobIds.Count);
        while (await reader.ReadAsync(cancellationToken))
        {
            var job = ReadClaimed(reader);
            claimed[job.Id] = job;
        }

        return claimed;
    }

    /// <summary>A claim statement with the parameters every claim takes: $1 the job ids, $2 the worker, $3 the lease, $4 the trace ids.</summary>
    private NpgsqlCommand ClaimCommand(string sql, IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, IReadOnlyDictionary<Guid, string>? traceIds)
    {
        var ids = jobIds.ToArray();
        var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        command.Parameters.Add(new NpgsqlParameter { Value = workerId });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        command.Parameters.Add(TraceIdsParameter(ids, traceIds));
        return command;
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
            ResumedWait = reader.FieldOrNull<string>("wait_data") is { } waitData ? ReadWait(waitData) : null,
            DefinitionHash = WorkflowJob.HashOf(reader.FieldOrNull<byte[]>("definition_digest"), reader.FieldOrNull<string>("definition_hash")),
            IsFork = reader.Field<bool>("is_fork"),
            TenantId = reader.Field<string>("tenant_id"),
            ConcurrencyKey = reader.FieldOrNull<string>("concurrency_key"),
            ConcurrencyLimit = reader.FieldOrNull<int?>("concurrency_limit"),
            ServiceTier = new ServiceTierRequest(reader.Field<string>("service_tier"), reader.FieldOrNull<DateTimeOffset?>("deadline")),
        };

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
}
