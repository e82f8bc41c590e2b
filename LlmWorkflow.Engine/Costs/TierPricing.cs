using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Engine.Costs;

/// <summary>
/// Prices a call at the tier it was served at: the price table holds list (standard) prices, and flex is billed at
/// <see cref="FlexOptions.PriceMultiplier"/> of them (OpenAI: the Batch API's rates, half the list price), batch calls at
/// <see cref="Llm.Batches.BatchOptions.PriceMultiplier"/>.
/// </summary>
public static class TierPricing
{
    /// <summary>The cost billed for a call whose list cost is <paramref name="listCost"/>, rounded as the price table rounds.</summary>
    public static decimal? Billed(decimal? listCost, string tierUsed, decimal flexMultiplier) =>
        tierUsed == ServiceTiers.Flex ? Discounted(listCost, flexMultiplier) : listCost;

    /// <summary><paramref name="listCost"/> times a tier's <paramref name="multiplier"/> (flex's or batch's), rounded as the price table rounds.</summary>
    public static decimal? Discounted(decimal? listCost, decimal multiplier) =>
        listCost is { } list ? Math.Round(list * multiplier, 6, MidpointRounding.AwayFromZero) : null;

    /// <summary>What the tier saved against the list price; 0 at standard, null when unpriced.</summary>
    public static decimal? Discount(decimal? listCost, decimal? billed) => listCost - billed;
}
