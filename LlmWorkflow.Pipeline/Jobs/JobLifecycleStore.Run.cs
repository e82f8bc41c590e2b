using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Pipeline.Webhooks;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// A run's writes: its step rows (records and checkpoints, fenced by the attempt), the usage rows of its paid calls,
/// and its finish (Finish, Fail, FinishCancelled) with the terminal webhook event. Each kind is one multi-row
/// statement for the writes of many jobs in one batch of the worker's <see cref="PostgresWriteBatcher"/>.
/// </summary>
public sealed partial class JobLifecycleStore
{
    /// <summary>
    /// Writes a step record. With <paramref name="checkpointOutput"/> the row also becomes the step's checkpoint and
    /// stores the full (uncapped) output that later steps of a resumed run read.
    /// </summary>
    public async Task UpsertStepAsync(Guid jobId, int jobAttempt, StepRecord record, JsonNode? checkpointOutput, bool isCheckpoint, CancellationToken cancellationToken) =>
        await Writes.ExecuteAsync(jobId, [StepStatement(jobId, jobAttempt, record, checkpointOutput, isCheckpoint)], cancellationToken);

    /// <summary>
    /// Writes a step record (or checkpoint), the first statement, and the usage rows of the LLM calls it paid for, in
    /// one transaction. False when the step row was refused because this run no longer owns the job's attempt (it was reclaimed,
    /// finished or deleted); the usage rows are written regardless while the job exists, because the calls were paid.
    /// </summary>
    public async Task<bool> WriteStepAsync(Guid jobId, IReadOnlyList<WriteStatement> statements, CancellationToken cancellationToken) =>
        (await Writes.ExecuteAsync(jobId, statements, cancellationToken))[0] == 1;

    /// <summary>The statement that writes a step record, fenced by the job's attempt so a reclaimed run cannot write.</summary>
    /// <remarks>One row of a multi-row statement: the step rows of many jobs in a batch are one INSERT.</remarks>
    public static WriteStatement StepStatement(Guid jobId, int jobAttempt, StepRecord record, JsonNode? checkpointOutput, bool isCheckpoint) =>
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
        $"j.attempt = r.job_attempt AND j.{JobLifecycle.Guard(JobTransition.Checkpoint)} OFFSET 0";

    private static readonly MultiRowStatement CheckpointRows = new("step checkpoint", StepSql(CheckpointConflict, RunningAttempt), StepColumns);

    private static readonly MultiRowStatement StepRecordRows = new("step record", StepSql(RecordConflict, RunningAttempt), StepColumns);

    /// <summary>
    /// Step rows of many jobs: each is written only while its job matches <paramref name="jobGuard"/> (running the
    /// attempt that made it: <see cref="JobTransition.Checkpoint"/>); returns the <c>ord</c> of every row written
    /// (inserted or updated).
    /// </summary>
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

        var output = reader.FieldOrNull<string>("output") is { } text ? JsonNode.Parse(text) : null;
        var row = new StepRecordRow(
            reader.Field<string>("step_id"), reader.Field<string>("display_name"), reader.Field<string>("step_type"),
            reader.Field<string>("status"), reader.Field<int>("attempts"), reader.Field<DateTimeOffset>("started_at"),
            reader.FieldOrNull<DateTimeOffset?>("finished_at"), reader.FieldOrNull<int?>("duration_ms") ?? 0,
            reader.FieldOrNull<string>("parent_step_id"), reader.FieldOrNull<string>("branch"),
            reader.FieldOrNull<string>("provider"), reader.FieldOrNull<string>("model"),
            reader.Field<int>("input_tokens"), reader.Field<int>("output_tokens"), reader.FieldOrNull<decimal?>("cost_usd"));
        return (output, row);
    }

    public async Task InsertUsageAsync(Guid jobId, string stepId, string? workflowName, LlmCallResult call, CancellationToken cancellationToken) =>
        await Writes.ExecuteAsync(jobId, [UsageStatement(Guid.CreateVersion7(), jobId, stepId, workflowName, call)], cancellationToken);

    /// <summary>
    /// The statement that records one answered LLM call. Its id is chosen by the worker when the answer arrives, so a
    /// write retried after an outage (or whose commit was not acknowledged) can never add a second row for one call.
    /// Not fenced by the lease: a paid call is recorded whoever owns the job now; only a deleted job's is dropped.
    /// One row of a multi-row statement: the usage rows of many calls in a batch are one INSERT.
    /// </summary>
    public static WriteStatement UsageStatement(Guid usageId, Guid jobId, string stepId, string? workflowName, LlmCallResult call)
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
        return UsageRows.Row(usageId,
            usageId, jobId, Truncate(call.Provider, 50), Truncate(call.Model, 100), call.InputTokens, call.OutputTokens,
            call.TotalTokens, call.CostUsd ?? 0m, (int)Math.Round(call.DurationMs), JsonText(metadata));
    }

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
    /// Stores the outcome, releases the lease and records the terminal webhook event, in one statement. Only the lease
    /// owner of a running job can finish it; false when this worker no longer owns it.
    /// </summary>
    /// <param name="attempt">The attempt this run claimed (see <see cref="ReleaseAsync"/>); null for any attempt.</param>
    /// <param name="stepRows">Step rows the run has not written yet (<see cref="StepStatement"/>), written first in the
    /// same transaction.</param>
    /// <remarks>One row of a multi-row statement: the finishes of many jobs in a batch are one statement, each row with
    /// its own guard, so only the rows whose guard fails lose.</remarks>
    public async Task<bool> FinishAsync(
        Guid jobId, string workerId, JobOutcome outcome, CancellationToken cancellationToken, int? attempt = null, IReadOnlyList<WriteStatement>? stepRows = null) =>
        (await Writes.ExecuteAsync(jobId, [.. stepRows ?? [], FinishStatement(jobId, workerId, outcome, attempt)], cancellationToken))[^1] == 1;

    /// <summary>The row of the finishing statement for one job (see <see cref="FinishAsync"/>).</summary>
    public WriteStatement FinishStatement(Guid jobId, string workerId, JobOutcome outcome, int? attempt) =>
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
    private static string FinishSql(int maxPayloadBytes) => $"""
        WITH r AS (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], $7::int[], $8::int[],
                                 $9::numeric[], $10::int[], $11::int[])
                AS r(id, worker, outcome, result_data, error_message, error_data, input_tokens, output_tokens, cost_usd, claimed_attempt,
                     ord)
        ), job AS (
            -- A LATERAL lookup per row (FOR UPDATE keeps it from being flattened into a join): each row is one primary-key
            -- probe, never a scan of every running job through the partial index on status.
            -- An accepted cancel wins over the run's own outcome: the job ends cancelled (its usage rows are written anyway).
            SELECT j.id, j.workflow_name, CASE WHEN j.cancel_requested_at IS NULL THEN r.outcome ELSE 'cancelled' END AS status,
                   j.user_id, j.username, j.action, j.attempt, j.webhook_url,
                   CASE WHEN j.cancel_requested_at IS NULL THEN r.result_data END AS result_data,
                   r.error_data, r.error_message, r.input_tokens, r.output_tokens,
                   j.started_at,
                   (EXTRACT(EPOCH FROM (now() - j.started_at)) * 1000)::int AS duration_ms,
                   r.input_tokens + r.output_tokens AS total_tokens, r.cost_usd, r.ord
              FROM r CROSS JOIN LATERAL (
                   SELECT j.id, j.workflow_name, j.user_id, j.username, j.action, j.attempt, j.webhook_url, j.started_at, j.cancel_requested_at
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
         WHERE j.id = job.id
        RETURNING job.ord
        """;

    /// <summary>Each outcome may only be stored from the states its transition starts from.</summary>
    private static string OutcomeGuards() => string.Join(" OR ",
        new[] { JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled }
        .Select(outcome => $"(r.outcome = '{outcome.ToWire()}' AND j.{JobLifecycle.Guard(JobLifecycle.ForOutcome(outcome))})"));

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

/// <summary>The final state a worker writes for a job.</summary>
/// <param name="ErrorMessage">The <c>error_message</c> column; defaults to the error's own message.</param>
public sealed record JobOutcome(JobStatus Status, JsonNode? Result, WorkflowError? Error, int InputTokens, int OutputTokens, decimal CostUsd, string? ErrorMessage = null);

/// <summary>A checkpointed step row, turned back into a <see cref="StepRecord"/> by the checkpoint store.</summary>
public sealed record StepRecordRow(
    string StepId, string DisplayName, string Type, string Status, int Attempts, DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt, int DurationMs, string? ParentStepId, string? Branch, string? Provider, string? Model,
    int InputTokens, int OutputTokens, decimal? CostUsd);
