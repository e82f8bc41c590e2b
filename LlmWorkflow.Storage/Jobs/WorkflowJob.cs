using System.Text.Json;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// A row of <c>llm_workflow_jobs</c>: the documents' columns plus username/action, progress, idempotency,
/// the worker lease and token/cost totals. Postgres is the source of truth for whether a job exists.
/// </summary>
public sealed class WorkflowJob
{
    public Guid Id { get; set; }

    /// <summary>Dispatch id. The column name is kept from the original (Celery) schema for compatibility; it equals the job id.</summary>
    public string CeleryTaskId { get; set; } = "";

    public string WorkflowName { get; set; } = "";

    public int Priority { get; set; }

    public string? WebhookUrl { get; set; }

    public string? WebhookSecret { get; set; }

    /// <summary>The application (caller key's tenant) that owns the job; other tenants never see it.</summary>
    public string TenantId { get; set; } = "";

    public string? UserId { get; set; }

    public string? Username { get; set; }

    public string? Action { get; set; }

    public JobStatus Status { get; set; } = JobStatus.Pending;

    public JsonDocument InputData { get; set; } = JsonDocument.Parse("{}");

    public JsonDocument? ResultData { get; set; }

    public string? ErrorMessage { get; set; }

    /// <summary>The structured error: type, category, message, retryable, retry_after, step_id, details, suggestions.</summary>
    public JsonDocument? ErrorData { get; set; }

    public DateTimeOffset QueuedAt { get; set; }

    /// <summary>
    /// When a scheduled job is due (the caller's <c>run_at</c> or <c>delay_seconds</c>), or a waiting job resumes (its
    /// step's wait); null for a job queued at once that never waited.
    /// </summary>
    public DateTimeOffset? RunAt { get; set; }

    /// <summary>The wait a running job was last parked on: <c>{step_id, step_key, kind, until}</c>; null when it never waited.</summary>
    public JsonDocument? WaitData { get; set; }

    /// <summary>When the job id was last written to a dispatch stream; the reconciler re-dispatches stale queued jobs.</summary>
    public DateTimeOffset? DispatchedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public int? DurationMs { get; set; }

    public int RetryCount { get; set; }

    /// <summary>The attempts a retry ended, oldest first: JSON objects as <c>JobCommands.RetryAsync</c> records them; null before any retry.</summary>
    public JsonDocument? PreviousAttempts { get; set; }

    public int MaxRetries { get; set; } = 3;

    public bool IsStale { get; set; }

    public string? StaleReason { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public string? CurrentStepId { get; set; }

    public string? CurrentStepName { get; set; }

    public int ProgressPercent { get; set; }

    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 (hex) of the canonical body of the request that created the job with <see cref="IdempotencyKey"/>.</summary>
    public string? IdempotencyFingerprint { get; set; }

    /// <summary>The answer (JSON text, kept as sent) that request got; a repeat of it gets the same. Null without a key.</summary>
    public string? IdempotentResponse { get; set; }

    public string? LeaseOwner { get; set; }

    /// <summary>The W3C trace id (32 lowercase hex) of the job's trace, started by its submit request; null when untraced.</summary>
    public string? TraceId { get; set; }

    /// <summary>
    /// Each run attempt's trace, oldest first: <c>{attempt, trace_id, worker_id, started_at}</c> as the worker records it
    /// when the attempt starts; null before the first traced run. A retried job's attempts are separate traces.
    /// </summary>
    public JsonDocument? AttemptTraces { get; set; }

    /// <summary>The worker that ran (or runs) the job's latest attempt; kept after the job ends.</summary>
    public string? WorkerId { get; set; }

    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>How many times a worker has claimed this job (1 on the first run; more after crashes or retries).</summary>
    public int Attempt { get; set; }

    public int InputTokens { get; set; }

    public int OutputTokens { get; set; }

    public int TotalTokens { get; set; }

    public decimal CostUsd { get; set; }

    /// <summary>Optional per-job budget (overrides the workflow's max_cost_usd).</summary>
    public decimal? BudgetUsd { get; set; }

    public bool DebugMode { get; set; }

    /// <summary>The tier its LLM calls ask for: <c>standard</c> or <c>flex</c> (<see cref="Engine.Llm.ServiceTiers"/>).</summary>
    public string ServiceTier { get; set; } = Engine.Llm.ServiceTiers.Standard;

    /// <summary>A flex job's deadline: refused flex calls are retried until shortly before it, then sent at standard.</summary>
    public DateTimeOffset? Deadline { get; set; }

    /// <summary>
    /// When a job no worker has started by then ends expired (its <c>ttl_seconds</c> counted from its due time); null:
    /// it waits as long as it takes. Kept after the start for the record; a retry clears it.
    /// </summary>
    public DateTimeOffset? StartBy { get; set; }

    /// <summary>Opt-in webhook events beyond the terminal ones, e.g. <c>workflow.step_completed</c>.</summary>
    public string[]? WebhookEvents { get; set; }

    public DateTimeOffset? CancelRequestedAt { get; set; }

    /// <summary>The schedule whose tick started this job; null for a job submitted directly.</summary>
    public Guid? ScheduleId { get; set; }

    /// <summary>
    /// SHA-256 (lowercase hex) of the workflow version the job runs (<c>llm_workflow_versions</c>); null for jobs from
    /// before pinning. Stored as the 32-byte <see cref="DefinitionDigest"/>; rows an older build wrote carry the hex in
    /// <see cref="LegacyDefinitionHash"/> instead.
    /// </summary>
    public string? DefinitionHash
    {
        get => HashOf(DefinitionDigest, LegacyDefinitionHash);
        set => (DefinitionDigest, LegacyDefinitionHash) = (value is null ? null : Convert.FromHexString(value), null);
    }

    /// <summary>The version's SHA-256 as bytes (<c>definition_digest</c>, 33 bytes a row where the hex took 65).</summary>
    public byte[]? DefinitionDigest { get; set; }

    /// <summary>The hex <c>definition_hash</c> builds before 20261129085000 wrote (null on rows written since).</summary>
    public string? LegacyDefinitionHash { get; set; }

    /// <summary>A row's version hash from its two columns: the digest, else the hex an older build wrote.</summary>
    public static string? HashOf(byte[]? digest, string? legacyHash) => digest is null ? legacyHash : Convert.ToHexStringLower(digest);

    /// <summary>
    /// The workflow's <c>concurrency.key</c> resolved for this job, scoped as <c>tenant/workflow/key</c>: at most
    /// <see cref="ConcurrencyLimit"/> jobs with it run at once. Null when the workflow declares no concurrency.
    /// </summary>
    public string? ConcurrencyKey { get; set; }

    public int? ConcurrencyLimit { get; set; }

    /// <summary>The job this one was forked from (<c>POST /api/v1/jobs/{id}/fork</c>), or null.</summary>
    public Guid? ForkedFromJobId { get; set; }

    /// <summary>The top-level step of the source job the fork runs from; the steps before it were reused.</summary>
    public string? ForkedFromStep { get; set; }
}
