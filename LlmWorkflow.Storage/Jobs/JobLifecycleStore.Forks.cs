using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>A fork to insert: the new job's id, its source, the step it runs from and what differs from the source.</summary>
/// <param name="RerunStepIds">The steps the fork runs (from_step, those after it, and the steps nested in them); the source's checkpoints of every other step are copied.</param>
/// <param name="InputData">The fork's input_data (JSON text), or null to keep the source's.</param>
public sealed record ForkInsert(Guid JobId, Guid SourceJobId, string FromStep, string DefinitionHash, IReadOnlyCollection<string> RerunStepIds, string? InputData);

public sealed partial class JobLifecycleStore
{
    // One statement: the fork's row (Fork: from no state to queued, copying the source's owner, webhook and settings)
    // and copies of the source's checkpoints of the reused steps (the newest of each step key), under job_attempt 0 so
    // the fork's own attempts never collide with them, marked with the job they came from. Their usage rows are not
    // copied: the calls were paid by the source. Matches nothing unless the source is finished (the Rerun states).
    // $1 fork id, $2 source job id, $3 from step, $4 now, $5 definition digest (bytea), $6 input (jsonb; NULL: the source's),
    // $7 the step ids run again.
    private static readonly string ForkSql = $"""
        WITH source AS (
            SELECT * FROM llm_workflow_jobs WHERE id = $2 AND {JobLifecycle.KeyedGuard(JobTransition.Rerun)}
        ), forked AS (
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, webhook_url, webhook_secret, webhook_events,
                                           user_id, username, action, status, input_data, debug_mode, budget_usd,
                                           queued_at, dispatched_at, created_at, updated_at, tenant_id, trace_id,
                                           definition_digest, forked_from_job_id, forked_from_step, concurrency_key, concurrency_limit,
                                           service_tier, deadline)
            SELECT $1, $1::text, s.workflow_name, s.priority, s.webhook_url, s.webhook_secret, s.webhook_events,
                   s.user_id, s.username, s.action, '{JobLifecycle.Rule(JobTransition.Fork).To.ToWire()}', COALESCE($6::jsonb, s.input_data),
                   s.debug_mode, s.budget_usd, $4, $4, $4, $4, s.tenant_id, NULL, $5::bytea, s.id, $3, s.concurrency_key, s.concurrency_limit,
                   s.service_tier, s.deadline
              FROM source s
            RETURNING id
        ), reused AS (
            INSERT INTO llm_job_steps (id, job_id, step_key, job_attempt, step_id, parent_step_id, branch, display_name, step_type, status,
                                       attempts, started_at, finished_at, duration_ms, output, error, input, rendered_prompt, provider,
                                       model, input_tokens, output_tokens, cost_usd, is_checkpoint, notes, created_at, reused_from_job_id)
            SELECT gen_random_uuid(), f.id, c.step_key, 0, c.step_id, c.parent_step_id, c.branch, c.display_name, c.step_type, c.status,
                   c.attempts, c.started_at, c.finished_at, c.duration_ms, c.output, c.error, c.input, c.rendered_prompt, c.provider,
                   c.model, c.input_tokens, c.output_tokens, c.cost_usd, TRUE, c.notes, $4, $2
              FROM forked f CROSS JOIN (
                   SELECT DISTINCT ON (step_key) * FROM llm_job_steps
                    WHERE job_id = $2 AND is_checkpoint AND NOT (step_id = ANY($7))
                    ORDER BY step_key, job_attempt DESC) c
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM forked) AS forked, (SELECT count(*) FROM reused) AS reused
        """;

    /// <summary>Fork: inserts the fork with its reused checkpoints; false when the source is not finished (or gone).</summary>
    public async Task<bool> ForkAsync(ForkInsert fork, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ForkSql);
        command.Parameters.Add(new NpgsqlParameter { Value = fork.JobId });
        command.Parameters.Add(new NpgsqlParameter { Value = fork.SourceJobId });
        command.Parameters.Add(new NpgsqlParameter { Value = fork.FromStep });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = Convert.FromHexString(fork.DefinitionHash), NpgsqlDbType = NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)fork.InputData ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = fork.RerunStepIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && reader.Field<long>("forked") == 1;
    }
}
