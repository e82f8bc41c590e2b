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

/// <summary>A run's writes: its step rows and checkpoints, its usage rows and its finish, each built as one row of a multi-row statement the worker's group commit sends.</summary>
public sealed partial class JobLifecycleStore
{
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

    /// <summary>
    /// The statement that records one answered LLM call. Its id is chosen by the worker when the answer arrives, so a
    /// write retried after an outage (or whose commit was not acknowledged) can never add a second row for one call.
    /// Not fenced by the lease: a paid call is recorded whoever owns the job now; only a deleted job's is dropped.
    /// One row of a multi-row statement: the usage rows of many calls in a batch are one INSERT.
    /// </summary>
    internal static WriteStatement UsageStatement(Guid usageId, Guid jobId, string stepId, string? workflowName, LlmCallResult call)
    {
        var metadata = UsageMetadata(stepId, workflowName, call);

        return UsageRows.Row(usageId,
            usageId, jobId, Truncate(call.Provider, 50), Truncate(call.Model, 100), call.InputTokens, call.OutputTokens,
            call.TotalTokens, call.CostUsd ?? 0m, (int)Math.Round(call.DurationMs), JsonText(metadata));
    }

    /// <summary>
    /// A usage row's metadata: the step, the workflow, how the call was priced and answered, its attempts, and for a
    /// cheaper tier what was asked for and the list price (cost_usd is what was billed; the budgets settle it).
    /// </summary>
    internal static JsonObject UsageMetadata(string stepId, string? workflowName, LlmCallResult call)
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
            metadata["service_tier"] = call.ServiceTier;
            metadata["requested_service_tier"] = requested;
            metadata["list_cost_usd"] = call.ListCostUsd;
        }

        return metadata;
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

    internal static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];
}
