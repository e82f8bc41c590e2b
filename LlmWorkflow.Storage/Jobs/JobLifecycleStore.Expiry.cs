using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Expire: a job submitted with <c>ttl_seconds</c> that no worker started by its <c>start_by</c> ends failed with an
/// <c>expired</c> error and its <c>workflow.failed</c> webhook (Trigger.dev's <c>ttl</c>, Inngest's
/// <c>timeouts.start</c>). The claim skips such a job, so it never runs late even when the sweep (Scheduling's
/// <c>JobExpiry</c>, run by the due-job waker at the earliest <c>start_by</c>) has not ended it yet.
/// </summary>
public sealed partial class JobLifecycleStore
{
    /// <summary>The error type an expired job fails with.</summary>
    public const string ExpiredErrorType = "expired";

    // Only jobs never started may expire: a job that parked in a wait after it started keeps its place whatever its ttl.
    private const string MayExpire = "start_by IS NOT NULL AND started_at IS NULL";

    // The index idx_workflow_jobs_start_by holds exactly the jobs that may expire: its predicate is this one's.
    // No parameters.
    private static readonly string NextExpirySql = $"""
        SELECT min(start_by) AS next_expiry FROM llm_workflow_jobs
         WHERE {MayExpire} AND status IN ('pending', 'queued', 'scheduled', 'waiting')
        """;

    // One statement: the due rows (skipping any a claim holds now), their terminal webhook events, and the failure.
    // The message names the job's own start_by. $1 now, $2 the error (jsonb, its message replaced per job), $3 limit.
    private static string ExpireDueSql(int maxPayloadBytes) => $"""
        WITH due AS (
            SELECT id, workflow_name, user_id, username, action, attempt, webhook_url, result_data, duration_ms, total_tokens, cost_usd,
                   'The job expired: no worker started it by its start_by (' || to_char(start_by AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                       || ', from ttl_seconds); it never ran.' AS message,
                   start_by
              FROM llm_workflow_jobs
             WHERE {MayExpire} AND {JobLifecycle.Guard(JobTransition.Expire)} AND start_by <= $1
             ORDER BY start_by
             LIMIT $3
               FOR UPDATE SKIP LOCKED
        ), job AS (
            SELECT due.*, 'failed'::text AS status,
                   jsonb_set(jsonb_set($2::jsonb, ARRAY['message'], to_jsonb(due.message)), ARRAY['details', 'start_by'], to_jsonb(due.start_by)) AS error_data
              FROM due
        ), outbox AS (
            {WebhookOutbox.TerminalEventsSql("job", maxPayloadBytes)}
        )
        UPDATE llm_workflow_jobs j
           SET status = job.status, error_message = job.message, error_data = job.error_data,
               completed_at = $1, lease_owner = NULL, lease_expires_at = NULL, dispatched_at = NULL, updated_at = $1
          FROM job
         WHERE j.id = job.id
        RETURNING job.id, job.workflow_name
        """;

    /// <summary>The earliest <c>start_by</c> of a job that may still expire, or null.</summary>
    public async Task<DateTimeOffset?> NextExpiryAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NextExpirySql);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime due ? new DateTimeOffset(due, TimeSpan.Zero) : null;
    }

    /// <summary>
    /// Expire: fails up to <paramref name="limit"/> jobs whose <c>start_by</c> passed before any worker started them,
    /// each with its <c>workflow.failed</c> webhook; returns their ids and workflows.
    /// </summary>
    public async Task<IReadOnlyList<(Guid Id, string WorkflowName)>> ExpireDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ExpireDueSql(webhookOptions.Value.MaxPayloadBytes));
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = ExpiredError().ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var expired = new List<(Guid, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            expired.Add((reader.Field<Guid>("id"), reader.Field<string>("workflow_name")));
        }

        return expired;
    }

    private static JsonObject ExpiredError() => JobErrors.ToJson(new WorkflowError
    {
        Type = ExpiredErrorType,
        Category = ErrorCategory.SystemError,
        Message = "The job expired before it started.",
        Details = new JsonObject { ["service"] = JobErrors.OwnService },
        Suggestions = ["Submit the job again if it is still wanted; a larger ttl_seconds, or more workers, lets it start in time."],
    });
}
