using System.Text.Json;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>A row of <c>llm_provider_usage</c>: one LLM provider call, as the documents define it.</summary>
public sealed class ProviderUsage
{
    public Guid Id { get; set; }

    public Guid? JobId { get; set; }

    public string Provider { get; set; } = "";

    public string Model { get; set; } = "";

    public int InputTokens { get; set; }

    public int OutputTokens { get; set; }

    public int TotalTokens { get; set; }

    public decimal CostUsd { get; set; }

    public int? DurationMs { get; set; }

    /// <summary>Step id, workflow, cache hit, estimated/unpriced flags, fallback attempts.</summary>
    public JsonDocument? Metadata { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The deleted job's tenant, copied when the job is deleted (null while the job exists: read it from the job).</summary>
    public string? TenantId { get; set; }

    /// <summary>The deleted job's workflow, copied with <see cref="TenantId"/>.</summary>
    public string? WorkflowName { get; set; }

    /// <summary>The deleted job's user id, copied with <see cref="TenantId"/>.</summary>
    public string? UserId { get; set; }

    /// <summary>The deleted job's username, copied with <see cref="TenantId"/>.</summary>
    public string? Username { get; set; }

    /// <summary>When the call's job was deleted: the call still counts in every report, as from a deleted job.</summary>
    public DateTimeOffset? JobDeletedAt { get; set; }
}
