using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Pipeline.Webhooks;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The worker's Postgres access on the hot path, in plain SQL: claim with a lease, renew, record steps, usage and
/// progress, finish. Claims are conditional updates so two workers can never both own a job; writes go through the
/// <see cref="PostgresWriteBatcher"/>, which commits many jobs' writes in one round trip. Every statement that changes
/// a job carries its <see cref="JobLifecycle"/> guard.
/// </summary>
public sealed class JobStore(NpgsqlDataSource dataSource, PostgresWriteBatcher writes, IOptions<WebhookOptions> webhookOptions)
{
    private static readonly string ClaimSql = $"""
        UPDATE llm_workflow_jobs
           SET status = 'processing', lease_owner = $2, lease_expires_at = now() + $3,
               started_at = COALESCE(started_at, now()), attempt = attempt + 1, updated_at = now()
         WHERE id = ANY($1)
           AND (({JobLifecycle.Guard(JobTransition.Claim)})
                OR ({JobLifecycle.Guard(JobTransition.Reclaim)} AND lease_expires_at < now()))
           AND cancel_requested_at IS NULL
        RETURNING id, workflow_name, input_data, attempt, user_id, username, action, budget_usd, debug_mode, priority,
                  webhook_url IS NOT NULL, webhook_events
        """;

    private static readonly string RenewSql = $"""
        UPDATE llm_workflow_jobs SET lease_expires_at = now() + $3
         WHERE id = $1 AND lease_owner = $2 AND {JobLifecycle.Guard(JobTransition.Renew)} AND cancel_requested_at IS NULL
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

    private readonly Dictionary<JobStatus, string> _finishSql = new[] { JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled }
        .ToDictionary(s => s, s => FinishSql(JobLifecycle.ForOutcome(s), webhookOptions.Value.MaxPayloadBytes));

    /// <summary>
    /// Claims jobs in one statement: each queued one, or processing one whose lease lapsed (its worker died). Jobs
    /// that are finished, cancelled, owned by a live worker or missing are simply absent from the result.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, CancellationToken cancellationToken)
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
                reader.GetGuid(0),
                reader.GetString(1),
                JsonNode.Parse(reader.GetString(2)),
                reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetDecimal(7),
                reader.GetBoolean(8),
                reader.GetInt32(9),
                reader.GetBoolean(10),
                reader.IsDBNull(11) ? [] : reader.GetFieldValue<string[]>(11));
            claimed[job.Id] = job;
        }

        return claimed;
    }

    /// <summary>Extends the lease; false when this worker no longer owns the job (it was cancelled or reclaimed).</summary>
    public async Task<bool> RenewLeaseAsync(Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        var p = new List<NpgsqlParameter>();
        var sql = RenewSql;
        p.Add(new NpgsqlParameter { Value = jobId });
        p.Add(new NpgsqlParameter { Value = workerId });
        p.Add(new NpgsqlParameter { Value = lease });
        return await writes.ExecuteAsync(sql, p, cancellationToken) == 1;
    }

    /// <summary>Gives a job back (worker shutting down): queued again, keeping its checkpoints for the next worker.</summary>
    /// <param name="attempt">The attempt this run claimed, so a run of an attempt that was taken over (even by the same
    /// worker, after a stall) cannot release the newer one; null for any attempt.</param>
    public async Task ReleaseAsync(Guid jobId, string workerId, CancellationToken cancellationToken, int? attempt = null)
    {
        var p = new List<NpgsqlParameter>();
        var sql = ReleaseSql;
        p.Add(new NpgsqlParameter { Value = jobId });
        p.Add(new NpgsqlParameter { Value = workerId });
        p.Add(new NpgsqlParameter { Value = (object?)attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        await writes.ExecuteAsync(sql, p, cancellationToken);
    }

    public async Task UpdateProgressAsync(Guid jobId, string stepId, string stepName, int percent, CancellationToken cancellationToken)
    {
        var p = new List<NpgsqlParameter>();
        var sql = ProgressSql;
        p.Add(new NpgsqlParameter { Value = jobId });
        p.Add(new NpgsqlParameter { Value = stepId });
        p.Add(new NpgsqlParameter { Value = stepName });
        p.Add(new NpgsqlParameter { Value = percent });
        await writes.ExecuteAsync(sql, p, cancellationToken);
    }

    /// <summary>
    /// Writes a step record. With <paramref name="checkpointOutput"/> the row also becomes the step's checkpoint and
    /// stores the full (uncapped) output that later steps of a resumed run read.
    /// </summary>
    public async Task UpsertStepAsync(Guid jobId, int jobAttempt, StepRecord record, JsonNode? checkpointOutput, bool isCheckpoint, CancellationToken cancellationToken) =>
        await writes.ExecuteAsync([StepStatement(jobId, jobAttempt, record, checkpointOutput, isCheckpoint)], cancellationToken);

    /// <summary>
    /// Writes a step record (or checkpoint), the first statement, and the usage rows of the LLM calls it paid for, in
    /// one transaction. False when the step row was refused because this run no longer owns the job's attempt (it was reclaimed,
    /// finished or deleted); the usage rows are written regardless while the job exists, because the calls were paid.
    /// </summary>
    public async Task<bool> WriteStepAsync(IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken) =>
        (await writes.ExecuteAsync(statements, cancellationToken))[0] == 1;

    /// <summary>The statement that writes a step record, fenced by the job's attempt so a reclaimed run cannot write.</summary>
    public static WriteStatement StepStatement(Guid jobId, int jobAttempt, StepRecord record, JsonNode? checkpointOutput, bool isCheckpoint)
    {
        var p = new List<NpgsqlParameter>();
        var sql = $"""
            INSERT INTO llm_job_steps (job_id, job_attempt, step_key, step_id, parent_step_id, branch, display_name, step_type,
                                       status, attempts, started_at, finished_at, duration_ms, output, error, provider, model,
                                       input_tokens, output_tokens, cost_usd, is_checkpoint, notes, input, rendered_prompt)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24
             WHERE EXISTS (SELECT 1 FROM llm_workflow_jobs WHERE id = $1 AND attempt = $2 AND {JobLifecycle.Guard(JobTransition.Checkpoint)})
            ON CONFLICT (job_id, step_key, job_attempt) DO UPDATE SET
                {(isCheckpoint ? "output = excluded.output, is_checkpoint = TRUE" : "status = excluded.status")}
            """;
        p.Add(new NpgsqlParameter { Value = jobId });
        p.Add(new NpgsqlParameter { Value = jobAttempt });
        p.Add(new NpgsqlParameter { Value = record.StepKey });
        p.Add(new NpgsqlParameter { Value = record.StepId });
        p.Add(new NpgsqlParameter { Value = (object?)record.ParentStepId ?? DBNull.Value });
        p.Add(new NpgsqlParameter { Value = (object?)record.Branch ?? DBNull.Value });
        p.Add(new NpgsqlParameter { Value = record.DisplayName });
        p.Add(new NpgsqlParameter { Value = record.Type });
        p.Add(new NpgsqlParameter { Value = record.Status.ToWire() });
        p.Add(new NpgsqlParameter { Value = record.Attempts });
        p.Add(new NpgsqlParameter { Value = record.StartedAt });
        p.Add(new NpgsqlParameter { Value = record.FinishedAt });
        p.Add(new NpgsqlParameter { Value = (int)Math.Round(record.DurationMs) });
        p.Add(Jsonb(isCheckpoint ? checkpointOutput : record.Output));
        p.Add(Jsonb(record.Error is null ? null : JobErrors.ToJson(record.Error)));
        p.Add(new NpgsqlParameter { Value = (object?)record.Provider ?? DBNull.Value });
        p.Add(new NpgsqlParameter { Value = (object?)record.Model ?? DBNull.Value });
        p.Add(new NpgsqlParameter { Value = record.InputTokens ?? 0 });
        p.Add(new NpgsqlParameter { Value = record.OutputTokens ?? 0 });
        // Typed: a NULL in INSERT … SELECT would otherwise default to text, which does not cast to numeric.
        p.Add(new NpgsqlParameter { Value = (object?)record.CostUsd ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
        p.Add(new NpgsqlParameter { Value = isCheckpoint });
        p.Add(new NpgsqlParameter { Value = (object?)record.Notes ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(Jsonb(record.Input));
        p.Add(new NpgsqlParameter { Value = (object?)record.RenderedPrompt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return new WriteStatement(sql, p);
    }

    /// <summary>The newest checkpoint of a step from any earlier attempt of the job.</summary>
    public async Task<(JsonNode? Output, StepRecordRow Row)?> TryGetCheckpointAsync(Guid jobId, string stepKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT output, step_id, display_name, step_type, status, attempts, started_at, finished_at, duration_ms,
                   parent_step_id, branch, provider, model, input_tokens, output_tokens, cost_usd
              FROM llm_job_steps
             WHERE job_id = $1 AND step_key = $2 AND is_checkpoint
             ORDER BY job_attempt DESC
             LIMIT 1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = stepKey });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var output = reader.IsDBNull(0) ? null : JsonNode.Parse(reader.GetString(0));
        var row = new StepRecordRow(
            reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5),
            reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
            reader.IsDBNull(8) ? 0 : reader.GetInt32(8),
            reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10),
            reader.IsDBNull(11) ? null : reader.GetString(11), reader.IsDBNull(12) ? null : reader.GetString(12),
            reader.GetInt32(13), reader.GetInt32(14), reader.IsDBNull(15) ? null : reader.GetDecimal(15));
        return (output, row);
    }

    public async Task InsertUsageAsync(Guid jobId, string stepId, string? workflowName, LlmCallResult call, CancellationToken cancellationToken) =>
        await writes.ExecuteAsync([UsageStatement(Guid.CreateVersion7(), jobId, stepId, workflowName, call)], cancellationToken);

    /// <summary>
    /// The statement that records one answered LLM call. Its id is chosen by the worker when the answer arrives, so a
    /// write retried after an outage (or whose commit was not acknowledged) can never add a second row for one call.
    /// Not fenced by the lease: a paid call is recorded whoever owns the job now; only a deleted job's is dropped.
    /// </summary>
    public static WriteStatement UsageStatement(Guid usageId, Guid jobId, string stepId, string? workflowName, LlmCallResult call)
    {
        var p = new List<NpgsqlParameter>();
        var sql = """
            INSERT INTO llm_provider_usage (id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
            SELECT $10, $1, $2, $3, $4, $5, $6, $7, $8, $9
             WHERE EXISTS (SELECT 1 FROM llm_workflow_jobs WHERE id = $1)
            ON CONFLICT (id) DO NOTHING
            """;
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
        p.Add(new NpgsqlParameter { Value = jobId });
        p.Add(new NpgsqlParameter { Value = Truncate(call.Provider, 50) });
        p.Add(new NpgsqlParameter { Value = Truncate(call.Model, 100) });
        p.Add(new NpgsqlParameter { Value = call.InputTokens });
        p.Add(new NpgsqlParameter { Value = call.OutputTokens });
        p.Add(new NpgsqlParameter { Value = call.TotalTokens });
        p.Add(new NpgsqlParameter { Value = call.CostUsd ?? 0m });
        p.Add(new NpgsqlParameter { Value = (int)Math.Round(call.DurationMs) });
        p.Add(Jsonb(metadata));
        p.Add(new NpgsqlParameter { Value = usageId });
        return new WriteStatement(sql, p);
    }

    /// <summary>
    /// Stores the outcome, releases the lease and records the terminal webhook event, in one statement. Only the lease
    /// owner of a running job can finish it; false when this worker no longer owns it.
    /// </summary>
    /// <param name="attempt">The attempt this run claimed (see <see cref="ReleaseAsync"/>); null for any attempt.</param>
    public async Task<bool> FinishAsync(Guid jobId, string workerId, JobOutcome outcome, CancellationToken cancellationToken, int? attempt = null)
    {
        var p = new List<NpgsqlParameter>
        {
            new() { Value = jobId },
            new() { Value = workerId },
            new() { Value = outcome.Status.ToWire() },
            Jsonb(outcome.Result),
            new() { Value = (object?)(outcome.ErrorMessage ?? outcome.Error?.Message) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            Jsonb(outcome.Error is null ? null : JobErrors.ToJson(outcome.Error)),
            new() { Value = outcome.InputTokens },
            new() { Value = outcome.OutputTokens },
            new() { Value = outcome.CostUsd, NpgsqlDbType = NpgsqlDbType.Numeric },
            new() { Value = (object?)attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer },
        };
        return await writes.ExecuteAsync(_finishSql[outcome.Status], p, cancellationToken) == 1;
    }

    /// <summary>
    /// The finishing statement: <c>job</c> locks the owned running row and computes its values after the
    /// transition, <c>outbox</c> records the terminal event from them, and the UPDATE writes them. The lock makes a
    /// racing transition (a cancel, a reclaim) wait and then re-check its own guard against the finished row.
    /// </summary>
    private static string FinishSql(JobTransition transition, int maxPayloadBytes) => $"""
        WITH job AS (
            SELECT id, workflow_name, $3::text AS status, user_id, username, action, attempt, webhook_url,
                   $4::jsonb AS result_data, $6::jsonb AS error_data,
                   (EXTRACT(EPOCH FROM (now() - started_at)) * 1000)::int AS duration_ms,
                   $7::int + $8::int AS total_tokens, $9::numeric AS cost_usd
              FROM llm_workflow_jobs
             WHERE id = $1 AND lease_owner = $2 AND ($10::int IS NULL OR attempt = $10) AND {JobLifecycle.Guard(transition)}
               FOR UPDATE
        ), outbox AS (
            {WebhookOutbox.TerminalEventsSql("job", maxPayloadBytes)}
        )
        UPDATE llm_workflow_jobs j
           SET status = job.status, result_data = job.result_data, error_message = $5, error_data = job.error_data,
               completed_at = now(), duration_ms = job.duration_ms,
               input_tokens = $7, output_tokens = $8, total_tokens = job.total_tokens, cost_usd = job.cost_usd,
               progress_percent = CASE WHEN job.status = 'completed' THEN 100 ELSE j.progress_percent END,
               current_step_id = CASE WHEN job.status = 'completed' THEN NULL ELSE j.current_step_id END,
               current_step_name = CASE WHEN job.status = 'completed' THEN NULL ELSE j.current_step_name END,
               lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
          FROM job
         WHERE j.id = job.id
        """;

    /// <summary>A jsonb parameter; text PostgreSQL cannot store (NUL, lone surrogates) is cleaned rather than failing the write.</summary>
    private static NpgsqlParameter Jsonb(JsonNode? node) => new()
    {
        NpgsqlDbType = NpgsqlDbType.Jsonb,
        Value = node is null ? DBNull.Value : StorableJson.Clean(node)!.ToJsonString(),
    };

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];
}

/// <summary>What a worker needs from a claimed job row.</summary>
/// <param name="HasWebhook">The job has a webhook URL, so its terminal event goes to the outbox.</param>
/// <param name="WebhookEvents">Opt-in events beyond the terminal ones, e.g. <c>workflow.step_completed</c>.</param>
public sealed record ClaimedJob(
    Guid Id, string WorkflowName, JsonNode? Input, int Attempt, string? UserId, string? Username, string? Action,
    decimal? BudgetUsd, bool DebugMode, int Priority, bool HasWebhook, IReadOnlyList<string> WebhookEvents);

/// <summary>The final state a worker writes for a job.</summary>
/// <param name="ErrorMessage">The <c>error_message</c> column; defaults to the error's own message.</param>
public sealed record JobOutcome(JobStatus Status, JsonNode? Result, WorkflowError? Error, int InputTokens, int OutputTokens, decimal CostUsd, string? ErrorMessage = null);

/// <summary>A checkpointed step row, turned back into a <see cref="StepRecord"/> by the checkpoint store.</summary>
public sealed record StepRecordRow(
    string StepId, string DisplayName, string Type, string Status, int Attempts, DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt, int DurationMs, string? ParentStepId, string? Branch, string? Provider, string? Model,
    int InputTokens, int OutputTokens, decimal? CostUsd);
