using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Worst-case cost of an LLM call before making it, shared by the budget check and the dry run:
/// prompt tokens ≈ characters / 4, output tokens = max_tokens (or <see cref="DefaultMaxOutputTokens"/>).
/// </summary>
public static class LlmCostEstimator
{
    /// <summary>Assumed output bound for calls without max_tokens.</summary>
    public const int DefaultMaxOutputTokens = 4096;

    public static int EstimateTokens(string text) => (text.Length + 3) / 4;

    /// <summary>The highest cost over the priced models of a fallback chain (any of them may answer); null when none is priced.</summary>
    public static decimal? MaxCost(IPriceTable prices, IEnumerable<string> models, int inputTokens, int outputTokens) =>
        models.Select(model => prices.Cost(model, inputTokens, outputTokens)).Max();
}
