using System.ComponentModel;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Contracts;

/// <summary>Full state of one job (<c>GET /api/v1/status/{job_id}</c>).</summary>
public sealed record JobStatusResponse
{
    public required Guid JobId { get; init; }

    public required string Status { get; init; }

    public required string WorkflowName { get; init; }

    public string? UserId { get; init; }

    public string? Username { get; init; }

    public string? Action { get; init; }

    [Description("The tenant the job belongs to (the submitting key's tenant).")]
    public string? TenantId { get; init; }

    public int Priority { get; init; }

    [Description("The price tier the job's LLM calls ask for: \"standard\", \"flex\" or \"batch\" (each llm step's usage says which tier served it).")]
    public string ServiceTier { get; init; } = "standard";

    [Description("A flex or batch job's deadline: refused flex calls are retried until shortly before it, then sent at standard; a batch that ended unanswered is replaced by a standard call unless it is close; null without one.")]
    public DateTimeOffset? Deadline { get; init; }

    [Description("When the job expires if no worker has started it by then (its ttl_seconds counted from when it was due); null without a ttl. An expired job is 'failed' with error.type \"expired\".")]
    public DateTimeOffset? StartBy { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset QueuedAt { get; init; }

    /// <summary>When a delayed job is (or was) due, or a waiting job resumes; null for a job queued at once that never waited.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>The schedule whose tick started the job; null for a job submitted directly.</summary>
    public Guid? ScheduleId { get; init; }

    /// <summary>While the job is <c>waiting</c>: the step it waits at, the kind of wait and until when; otherwise null.</summary>
    public JobWait? WaitingFor { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    public int? DurationMs { get; init; }

    public JobProgress? Progress { get; init; }

    /// <summary>The running step's id (also in <c>progress</c>), top level as document 002's poller reads it.</summary>
    public string? CurrentStepId { get; init; }

    /// <summary>The running step's display name (also in <c>progress</c>).</summary>
    public string? CurrentStepName { get; init; }

    /// <summary>Overall percent done, 0-100 (also <c>progress.percent</c>).</summary>
    public int ProgressPercent { get; init; }

    /// <summary>The input the job was submitted with.</summary>
    public JsonNode? InputData { get; init; }

    /// <summary>
    /// <c>{output, cost_data}</c> once the job completed, and (document 000's shape) each member of an object output
    /// beside them, e.g. <c>result.contacts</c> as well as <c>result.output.contacts</c>.
    /// </summary>
    public JsonNode? Result { get; init; }

    [Description("Document 000's dispatch id (its Celery task id); here it equals job_id.")]
    public string? CeleryTaskId { get; init; }

    [Description("Document 001's top-level output: the same value as result.output; null until the job completed.")]
    public JsonNode? Output { get; init; }

    [Description("Document 001's run totals: duration_ms, tokens and total_cost_usd (USD, the same figure as result.cost_data.cost_usd of a priced run); zero until the job ran.")]
    public JobRunMetadata? Metadata { get; init; }

    public string? ErrorMessage { get; init; }

    public JsonNode? Error { get; init; }

    public int Attempt { get; init; }

    [Description("The W3C trace id (32 lowercase hex) of the job's latest run attempt (attempt_traces' last entry); before any traced run, the trace its submit request started; null when neither was traced.")]
    public string? TraceId { get; init; }

    [Description("Each run attempt's trace, oldest first (a retry, a crash recovery and a resume after a wait each start a run): its attempt number, W3C trace id, worker and start. A retried job's attempts are separate traces; trace_id is the latest. Empty before the first traced run.")]
    public IReadOnlyList<JobAttemptTrace> AttemptTraces { get; init; } = [];

    [Description("The worker that ran (or is running) the job's latest attempt; kept after the job ends; null until a worker claims it.")]
    public string? WorkerId { get; init; }

    /// <summary>Step rows of every attempt of the job (each carries its <c>job_attempt</c>), oldest first.</summary>
    public IReadOnlyList<JobStepResponse> Steps { get; init; } = [];

    [Description("The attempts that a retry ended, oldest first: each attempt's outcome, error and timings as they were when the job was retried. Empty when the job was never retried.")]
    public IReadOnlyList<JobAttemptSummary> PreviousAttempts { get; init; } = [];

    [Description("SHA-256 (64 hex) of the workflow version the job runs (its definition, prompt files and price rows as submitted); resumes, retries, wake-ups and forks run this version even if the files changed since. Null for jobs from before pinning (they run the current definition). GET /api/v1/workflows/{name}/versions lists the versions.")]
    public string? DefinitionHash { get; init; }

    [Description("The job this one was forked from and the step it runs from (POST /api/v1/jobs/{job_id}/fork); null for a job that is not a fork.")]
    public JobForkLink? ForkedFrom { get; init; }

    [Description("The forks of this job, oldest first.")]
    public IReadOnlyList<JobForkSummary> Forks { get; init; } = [];

    [Description("What the job's cost is made of: paid by this job, and reused (checkpoints of earlier attempts after a retry, or the source's steps in a fork, not paid again).")]
    public JobCostBreakdown? CostBreakdown { get; init; }
}

/// <summary>A fork's source: the job and the top-level step the fork runs from.</summary>
public sealed record JobForkLink(Guid JobId, string Step);

/// <summary>One fork of a job.</summary>
public sealed record JobForkSummary(Guid JobId, string FromStep, string Status, DateTimeOffset CreatedAt);

/// <summary>A job's run totals in document 001's shape (<c>metadata</c> of <c>GET /api/v1/jobs/{job_id}</c>).</summary>
public sealed record JobRunMetadata(
    [property: Description("Milliseconds from start to finish; null until the job finished.")] int? DurationMs,
    int InputTokens,
    int OutputTokens,
    int TotalTokens,
    [property: Description("USD of every LLM call the job made (cost_usd of the job).")] decimal TotalCostUsd);

/// <summary>
/// A job's cost split into what this job paid and what it reused. <c>cost_usd</c> of the job counts checkpoints of its
/// earlier attempts (reused after a retry) but not a fork's copies of its source's steps (reused at $0).
/// </summary>
public sealed record JobCostBreakdown(
    [property: Description("USD paid by this job's calls (its current attempt, or every attempt's calls the job made itself).")] decimal PaidUsd,
    [property: Description("USD of the reused steps' original calls, not paid again by this job.")] decimal ReusedUsd,
    [property: Description("The reused steps: checkpoints restored instead of run.")] IReadOnlyList<JobReusedStep> ReusedSteps);

/// <summary>A step whose checkpoint the job reused instead of running it.</summary>
public sealed record JobReusedStep(
    string StepKey,
    string StepId,
    [property: Description("What the step's calls cost when they were made (not paid again).")] decimal? CostUsd,
    int InputTokens,
    int OutputTokens,
    [property: Description("The job whose run made the step: this job (an earlier attempt) or a fork's source.")] Guid FromJobId,
    [property: Description("The attempt that made it; 0 for a fork's copy of its source's step.")] int FromAttempt);

/// <summary>One earlier attempt of a retried job, as it stood when the retry was requested.</summary>
public sealed record JobAttemptSummary(
    [property: Description("The job attempt number (the job_attempt of this attempt's steps).")] int Attempt,
    [property: Description("How the attempt ended: failed or cancelled.")] string Status,
    [property: Description("The attempt's error message, if it failed.")] string? ErrorMessage,
    JsonNode? Error,
    [property: Description("When the attempt started running (null if it never did).")] DateTimeOffset? StartedAt,
    [property: Description("When the attempt ended.")] DateTimeOffset? CompletedAt,
    [property: Description("How long the attempt ran, in milliseconds.")] int? DurationMs,
    [property: Description("When the retry was requested.")] DateTimeOffset RetriedAt,
    [property: Description("USD of the calls this attempt paid that later attempts did not reuse (the steps a retry or rerun ran again); the job's cost_usd counts them.")] decimal? CostUsd = null);

/// <summary>One run attempt's trace, as the worker recorded it when the run started.</summary>
public sealed record JobAttemptTrace(
    [property: Description("The job attempt number (the job_attempt of the run's steps; a resume after a wait keeps its attempt).")] int Attempt,
    [property: Description("The W3C trace id (32 lowercase hex) of the run's job.run span.")] string TraceId,
    [property: Description("The worker that ran it.")] string? WorkerId,
    [property: Description("When the run started.")] DateTimeOffset StartedAt);

/// <summary>Where a running job is: the current step's id, friendly name and overall percent.</summary>
public sealed record JobProgress(string? CurrentStepId, string? CurrentStepName, int Percent);

/// <summary>One step attempt of a job.</summary>
public sealed record JobStepResponse(
    string StepKey,
    string StepId,
    string DisplayName,
    string Type,
    string Status,
    int Attempts,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    int? DurationMs,
    string? Model,
    int InputTokens,
    int OutputTokens,
    decimal? CostUsd,
    JsonNode? Output,
    JsonNode? Error,
    string? Notes = null,
    [property: Description("The job attempt that ran this step: 1 for the first run, higher after a resume or a retry.")] int JobAttempt = 1,
    JsonNode? Input = null,
    [property: Description("An llm step's messages as sent, one [role] block each, secrets redacted; cut after 32768 characters with a '… [truncated: n more characters]' marker. Null for other steps.")] string? RenderedPrompt = null,
    [property: Description("The control-flow step (parallel, for_each, condition) this step ran inside, by step id; null at top level.")] string? ParentStepId = null,
    [property: Description("Where inside the parent: then/else, the parallel branch id, or the for_each item index (\"0\", \"1\", ...); null at top level.")] string? Branch = null,
    [property: Description("In a fork: the source job this checkpoint was copied from (reused at $0; its tokens and cost are the source's); null for a step this job ran.")] Guid? ReusedFromJobId = null);

/// <summary>What a waiting job waits for.</summary>
/// <param name="StepId">The step that parked it; for a "slot" wait the step it resumes at, empty for a job that has not started.</param>
/// <param name="Kind">"sleep", "event" (a wait_for_event step), "approval" (an approval step), "budget" (an LLM call waiting for a provider budget, docs/ADMISSION.md), "batch" (a batch job's LLM call running as a provider batch; it is looked at again at until) or "slot" (its tenant runs its Tenants:&lt;id&gt;:MaxConcurrentJobs already; a slot freed queues it at once).</param>
/// <param name="Until">When it resumes: the sleep's end, or the wait's timeout; for a "slot" wait, when the reconciler looks again at the latest.</param>
/// <param name="Event">The signal an "event" or "approval" wait waits for (<c>POST /api/v1/jobs/{id}/signals/{event}</c>).</param>
/// <param name="Prompt">An approval's question.</param>
/// <param name="DecisionUrl">An approval's decision page: signed, single-use, expiring; works without an API key.</param>
/// <param name="ApproveUrl">The decision page with Approve chosen (opening it decides nothing; the page's button does).</param>
/// <param name="RejectUrl">The decision page with Reject chosen.</param>
/// <param name="LinksExpireAt">When the decision links stop working: the approval's timeout, at most 30 days (Approvals:MaxLinkLifetime) after they were issued.</param>
/// <param name="Provider">A "batch" wait's provider (openai, anthropic or a configured one); a "budget" wait's provider when the wait is an LLM provider's.</param>
/// <param name="BatchId">A "batch" wait's batch id at the provider; null for the moment between recording its key and creating it.</param>
/// <param name="Reason">Why a "budget" wait waits: paused, tokens, requests, dollars, share, outage, priority (kept out of the priority band); or rate_limited (the provider said 429), concurrency, zero_budget, flex_unavailable (docs/ADMISSION.md, "Waiting"). Until is then when it is expected to fit, never a time already past.</param>
/// <param name="Scope">A "budget" wait's budget that did not fit: a provider (openai), a model (openai/gpt-4o-mini), a key (key:&lt;fingerprint&gt;), a tenant's or a user's scope, or a dollar budget.</param>
public sealed record JobWait(
    string StepId,
    string Kind,
    DateTimeOffset Until,
    string? Event = null,
    string? Prompt = null,
    string? DecisionUrl = null,
    string? ApproveUrl = null,
    string? RejectUrl = null,
    DateTimeOffset? LinksExpireAt = null,
    string? Provider = null,
    string? BatchId = null,
    string? Reason = null,
    string? Scope = null);
