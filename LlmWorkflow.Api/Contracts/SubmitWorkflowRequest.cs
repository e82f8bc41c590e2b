using System.ComponentModel;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Body of <c>POST /api/v1/workflow</c> (and its alias <c>POST /api/v1/jobs</c>).</summary>
public sealed record SubmitWorkflowRequest
{
    [Description("Name of a workflow in the catalog (GET /api/v1/workflows), e.g. emergency_contacts.")]
    public string? WorkflowName { get; init; }

    [Description("Input for the workflow, checked against its input_schema.")]
    public JsonObject? InputData { get; init; }

    [Description("Caller's user id. When given, reads of this job may be scoped to it.")]
    public string? UserId { get; init; }

    [Description("Who triggered the workflow (informational, max 255 characters).")]
    public string? Username { get; init; }

    [Description("The user activity that needed the workflow, e.g. 'generate mission report' (informational).")]
    public string? Action { get; init; }

    [Description("Where to POST the signed result when the job finishes.")]
    public string? WebhookUrl { get; init; }

    [Description("HMAC secret for this job's webhook signatures (else the service-wide LLM_WEBHOOK_SECRET). Never returned.")]
    public string? WebhookSecret { get; init; }

    [Description("Opt-in webhook events besides the terminal ones (workflow.completed, workflow.failed and workflow.cancelled are always sent): \"workflow.step_completed\" (each finished top-level step), \"workflow.waiting\" (the job parked at a sleep, a wait_for_event or an approval step, with what it waits for and an approval's decision links). A name that is none of these is a 400 listing the valid ones.")]
    public IReadOnlyList<string>? WebhookEvents { get; init; }

    [Description("0-10, higher runs first. Default 0.")]
    public int? Priority { get; init; }

    [Description("Keep full step inputs/outputs for debugging.")]
    public bool? DebugMode { get; init; }

    [Description("Budget for this job in USD, 0-9999.999999; overrides the workflow's max_cost_usd.")]
    public decimal? BudgetUsd { get; init; }

    [Description("Run no earlier than this time: RFC 3339 with an offset, e.g. 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00; " +
                 "in the future, at most a year ahead. The job is 'scheduled' until then, holding no worker slot. Not with delay_seconds.")]
    public string? RunAt { get; init; }

    [Description("Run this many seconds from now (1-31536000). The job is 'scheduled' until then. Not with run_at.")]
    public long? DelaySeconds { get; init; }

    [Description("Time-to-live before the job starts, in seconds (1-31536000), counted from when it is due (now, or run_at / delay_seconds): " +
                 "a job no worker has started by then is never run; it ends 'failed' with error.type \"expired\" (its start_by in the message and " +
                 "error.details.start_by) and its workflow.failed webhook. A job that started is not affected, even when it later waits. " +
                 "The status shows the time as start_by. A retry clears it.")]
    public long? TtlSeconds { get; init; }

    [Description("The price tier of the job's LLM calls: \"standard\" (default), \"flex\" (OpenAI's flex processing: slower, " +
                 "sometimes refused for capacity, billed at half the list price) or \"batch\" (OpenAI's Batch API or Anthropic's Message Batches: " +
                 "each llm step's call is sent as a batch and the job waits, holding no worker slot, with waiting_for.kind \"batch\", until it ends; " +
                 "billed at Llm:Batch:PriceMultiplier of the list price). Providers without the tier run the call at standard and say so. " +
                 "Any other value is a 400 listing the valid ones.")]
    public string? ServiceTier { get; init; }

    [Description("For flex or batch: the time the job's calls must be answered by, RFC 3339 with an offset, in the future (after run_at, at most a year ahead). " +
                 "A flex call refused for capacity is asked again with backoff while the deadline leaves more than Llm:Flex:FallbackMargin, then sent at standard; " +
                 "without a deadline it is sent at standard at once. A batch that ended unanswered (expired, failed, cancelled) is replaced by a standard call " +
                 "unless the deadline is less than Llm:Batch:FallbackMargin away (then the step fails). A deadline alone implies \"flex\"; with \"standard\" it is a 400.")]
    public string? Deadline { get; init; }
}

/// <summary>
/// The 202 answer to a submission: where to poll and roughly how long until a worker starts it (for a scheduled job,
/// the time until its <c>run_at</c> plus that).
/// </summary>
public sealed record JobAcceptedResponse(
    Guid JobId,
    string Status,
    string WorkflowName,
    DateTimeOffset CreatedAt,
    string StatusUrl,
    int EstimatedWaitSeconds,
    DateTimeOffset? RunAt = null)
{
    /// <summary>Document 000's dispatch id (its Celery task id); here it equals <c>job_id</c>.</summary>
    [System.ComponentModel.Description("Document 000's celery_task_id: the job's dispatch id, equal to job_id (kept for clients written from that document).")]
    public string CeleryTaskId { get; init; } = JobId.ToString();
}
