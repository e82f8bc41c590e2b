using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Jobs;

/// <summary>A validated-on-submit request to run a workflow (the body of <c>POST /api/v1/workflow</c>).</summary>
public sealed record JobSubmission
{
    public required string WorkflowName { get; init; }

    public JsonObject InputData { get; init; } = [];

    /// <summary>The caller key's tenant; the job and its idempotency key belong to it.</summary>
    public string TenantId { get; init; } = "";

    public string? UserId { get; init; }

    public string? Username { get; init; }

    public string? Action { get; init; }

    public string? WebhookUrl { get; init; }

    public string? WebhookSecret { get; init; }

    public IReadOnlyList<string>? WebhookEvents { get; init; }

    public int Priority { get; init; }

    public bool DebugMode { get; init; }

    public decimal? BudgetUsd { get; init; }

    public string? IdempotencyKey { get; init; }

    /// <summary>SHA-256 of the request's canonical body (<see cref="IdempotentRequests.Fingerprint"/>): a repeated key with another one is a conflict.</summary>
    public string? RequestFingerprint { get; init; }

    /// <summary>The job's tier and flex deadline (resolved from service_tier and deadline); null = standard.</summary>
    public LlmWorkflow.Engine.Llm.ServiceTierRequest? ServiceTier { get; init; }

    /// <summary>When to run it (resolved from run_at or delay_seconds); null runs it at once.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>
    /// How long after it is due it may still start (ttl_seconds); null waits as long as it takes. Its start_by is taken
    /// from the same instant as its created_at when the row is built, so the two never drift apart under load.
    /// </summary>
    public TimeSpan? TimeToLive { get; init; }

    /// <summary>
    /// The workflow version to pin the job to instead of the catalog's (the project generator's MODEL_PRIMARY derives
    /// one with its model); null pins the catalog's.
    /// </summary>
    public LlmWorkflow.Storage.Versions.WorkflowVersion? Version { get; init; }

    public string? TraceParent { get; init; }

    public string? TraceState { get; init; }
}

/// <summary>One reason a submission was refused, naming the offending field (e.g. <c>input_data.city</c>).</summary>
public sealed record SubmissionProblem(string Field, string Message)
{
    /// <summary>The 400 that names each field with its messages, and all of them in <c>detail</c>.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ValidationProblem ToResult(IEnumerable<SubmissionProblem> problems)
    {
        var list = problems.ToList();
        return Microsoft.AspNetCore.Http.TypedResults.ValidationProblem(
            list.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
            detail: string.Join(" ", list.Select(p => $"{p.Field}: {p.Message}")));
    }
}

/// <summary>
/// The outcome of a submission: a new job, the existing job for a repeated idempotency key (with the answer its first
/// request got), a key reused with another request (<paramref name="KeyConflict"/>), or problems.
/// </summary>
public sealed record SubmissionResult(
    WorkflowJob? Job,
    bool Created,
    IReadOnlyList<SubmissionProblem> Problems,
    LlmWorkflow.Api.Contracts.JobAcceptedResponse? Accepted = null,
    bool KeyConflict = false,
    bool WorkflowNotFound = false)
{
    public bool Succeeded => Job is not null;
}
