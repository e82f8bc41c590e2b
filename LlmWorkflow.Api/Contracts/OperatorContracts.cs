using System.ComponentModel;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// Body of <c>POST /api/v1/jobs/retry</c>: which finished jobs to queue again, and whether only to count them.
/// Init properties (see <see cref="BulkDeleteRequest"/>).
/// </summary>
public sealed record BulkRetryRequest
{
    [Description("Which jobs: every field given narrows the match (AND); at least one of them is required besides status.")]
    public BulkRetryFilter? Filter { get; init; }

    [Description("true: only count the matching jobs (and list the first ids); nothing is queued.")]
    public bool DryRun { get; init; }
}

/// <summary>The filter of a bulk retry.</summary>
public sealed record BulkRetryFilter
{
    [Description("The jobs' status: failed, cancelled or both (the states a retry starts from); default [\"failed\"].")]
    public IReadOnlyList<string>? Status { get; init; }

    [Description("The error's type, e.g. provider_unavailable, rate_limited, timeout.")]
    public string? ErrorType { get; init; }

    [Description("The error's category: EXTERNAL_ERROR, CONFIG_ERROR, USER_ERROR or SYSTEM_ERROR.")]
    public string? ErrorCategory { get; init; }

    [Description("The workflow's name.")]
    public string? WorkflowName { get; init; }

    [Description("The LLM provider the failing call went to (error.details.provider), e.g. openrouter.")]
    public string? Provider { get; init; }

    [Description("Jobs that ended at or after this time (RFC 3339 with an offset).")]
    public DateTimeOffset? Since { get; init; }

    [Description("Jobs that ended before this time (RFC 3339 with an offset).")]
    public DateTimeOffset? Until { get; init; }

    [Description("Admins only: only this tenant's jobs (callers always act on their own tenant).")]
    public string? TenantId { get; init; }
}

/// <summary>What a bulk retry matched and did.</summary>
public sealed record BulkRetryResponse(
    [property: Description("Whether this was only a count.")] bool DryRun,
    [property: Description("How many jobs match the filter (at most max_jobs are acted on per request).")] int Matched,
    [property: Description("How many were queued again (0 on a dry run).")] int Retried,
    [property: Description("Matched jobs that could not be retried (they changed state meanwhile).")] int Skipped,
    [property: Description("The ids of the jobs acted on (a dry run: the first ones that would be), oldest first.")] IReadOnlyList<Guid> JobIds,
    [property: Description("The most jobs one request retries; send it again for the rest.")] int MaxJobs);

/// <summary>Optional body of <c>POST /api/v1/workflows/{name}/pause</c>.</summary>
public sealed record PauseWorkflowRequest
{
    [Description("Why, shown to other operators (at most 500 characters).")]
    public string? Reason { get; init; }
}

/// <summary>A workflow's pause state after a pause or resume.</summary>
public sealed record WorkflowPauseResponse(
    [property: Description("The workflow.")] string WorkflowName,
    [property: Description("Whether it is paused now.")] bool Paused,
    [property: Description("Since when (null when not paused).")] DateTimeOffset? PausedAt,
    [property: Description("Jobs held: on pause, the queued jobs it held then; on resume, 0 (the held jobs are queued now).")] int HeldJobs,
    [property: Description("What happens now, in a sentence.")] string Message);

/// <summary>A paused workflow in <c>GET /api/v1/admin/pauses</c>.</summary>
public sealed record WorkflowPauseSummary(
    string WorkflowName,
    DateTimeOffset PausedAt,
    [property: Description("The key name (or tenant) that paused it.")] string? PausedBy,
    string? Reason,
    [property: Description("Its jobs that are due and held, waiting for the resume.")] int HeldJobs);

/// <summary>The paused workflows.</summary>
public sealed record WorkflowPausesResponse(IReadOnlyList<WorkflowPauseSummary> Paused);

/// <summary><c>GET /api/v1/admin/providers/health</c>: every live worker's LLM calls of the last minutes, by provider and model.</summary>
public sealed record ProviderHealthResponse(
    [property: Description("When the view was merged.")] DateTimeOffset GeneratedAt,
    [property: Description("How far back the counts look, in seconds.")] double WindowSeconds,
    [property: Description("The live workers that reported.")] IReadOnlyList<string> Workers,
    [property: Description("Providers, the most failing first.")] IReadOnlyList<ProviderHealthEntry> Providers);

/// <summary>One provider: its calls, failures, circuit and models.</summary>
public sealed record ProviderHealthEntry(
    string Provider,
    int Calls,
    int Failures,
    [property: Description("failures / calls in the window; null without calls.")] double? ErrorRate,
    [property: Description("closed, open, half_open, or unknown (no breaker state reported yet: no call has been refused).")] string CircuitState,
    [property: Description("The workers whose breaker for this provider is open.")] IReadOnlyList<string> OpenOnWorkers,
    [property: Description("When the latest open breaker lets a probe call through.")] DateTimeOffset? OpenUntil,
    [property: Description("What to do, for the most frequent error type (null when nothing failed).")] string? Advice,
    IReadOnlyList<ModelHealthEntry> Models)
{
    [Description("The provider's outage breaker, shared by every worker (Llm:Outage): while open its steps wait parked (waiting_for.reason \"outage\").")]
    public ProviderOutageEntry? Outage { get; init; }
}

/// <summary>A provider's shared outage breaker.</summary>
public sealed record ProviderOutageEntry(
    [property: Description("closed, open (steps park until open_until), or half_open (one call probes the provider).")] string State,
    [property: Description("Failed attempts in a row (5xx, timeouts, connection failures).")] int ConsecutiveFailures,
    [property: Description("When the outage began (the breaker opened).")] DateTimeOffset? OpenedAt,
    [property: Description("When one call probes the provider again.")] DateTimeOffset? OpenUntil);

/// <summary>One model of a provider.</summary>
public sealed record ModelHealthEntry(
    string Model,
    int Calls,
    int Failures,
    double? ErrorRate,
    [property: Description("Failed calls by error type.")] IReadOnlyDictionary<string, int> FailuresByType,
    DateTimeOffset? LastAnsweredAt,
    [property: Description("The latest errors of any worker, newest first.")] IReadOnlyList<ProviderErrorEntry> LastErrors);

/// <summary>One failed call.</summary>
public sealed record ProviderErrorEntry(DateTimeOffset At, string Type, string Message, int? HttpStatus, string WorkerId);
