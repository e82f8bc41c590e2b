using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Full state of one job (<c>GET /api/v1/status/{job_id}</c>).</summary>
public sealed record JobStatusResponse
{
    public required Guid JobId { get; init; }

    public required string Status { get; init; }

    public required string WorkflowName { get; init; }

    public string? UserId { get; init; }

    public string? Username { get; init; }

    public string? Action { get; init; }

    public int Priority { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset QueuedAt { get; init; }

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

    /// <summary><c>{output, cost_data}</c> once the job completed.</summary>
    public JsonNode? Result { get; init; }

    public string? ErrorMessage { get; init; }

    public JsonNode? Error { get; init; }

    public int Attempt { get; init; }

    public IReadOnlyList<JobStepResponse> Steps { get; init; } = [];
}

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
    JsonNode? Error);
