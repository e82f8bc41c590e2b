using System.Text.Json;

namespace LlmWorkflow.Pipeline.Jobs;

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
}
