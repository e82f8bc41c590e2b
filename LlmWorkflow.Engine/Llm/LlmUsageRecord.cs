namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// What the job pipeline writes to <c>llm_provider_usage</c> for one answered LLM call (the documents' columns plus
/// how the figure was obtained). The column is NOT NULL, so an unpriced call records 0 with <see cref="Priced"/> false.
/// </summary>
public sealed record LlmUsageRecord(
    string Provider,
    string Model,
    int InputTokens,
    int OutputTokens,
    int TotalTokens,
    decimal CostUsd,
    bool Priced,
    string? CostSource,
    bool CacheHit,
    bool UsageEstimated)
{
    public static LlmUsageRecord From(LlmCallResult call) => new(
        call.Provider,
        call.Model,
        call.InputTokens,
        call.OutputTokens,
        call.TotalTokens,
        call.CostUsd ?? 0m,
        call.Priced,
        call.CostSource,
        call.CacheHit,
        call.UsageEstimated);
}
