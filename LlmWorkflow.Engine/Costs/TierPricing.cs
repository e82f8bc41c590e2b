using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Engine.Costs;

/// <summary>
/// Prices a call at the tier it was served at: the price table holds list (standard) prices, and flex is billed at
/// <see cref="FlexOptions.PriceMultiplier"/> of them (OpenAI: the Batch API's rates, half the list price).
/// </summary>
public static class TierPricing
{
    /// <summary>The cost billed for a call whose list cost is <paramref name="listCost"/>, rounded as the price table rounds.</summary>
    public static decimal? Billed(decimal? listCost, string tierUsed, decimal flexMultiplier) =>
        listCost is { } list && tierUsed == ServiceTiers.Flex
            ? Math.Round(list * flexMultiplier, 6, MidpointRounding.AwayFromZero)
            : listCost;

    /// <summary>What the tier saved against the list price; 0 at standard, null when unpriced.</summary>
    public static decimal? Discount(decimal? listCost, decimal? billed) => listCost - billed;
}
