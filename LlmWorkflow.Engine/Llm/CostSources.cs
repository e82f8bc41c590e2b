namespace LlmWorkflow.Engine.Llm;

/// <summary>Values of <see cref="LlmCallResult.CostSource"/>.</summary>
public static class CostSources
{
    /// <summary>The provider reported the cost itself (OpenRouter <c>usage.cost</c>); preferred when present.</summary>
    public const string Provider = "provider";

    /// <summary>Computed from reported tokens with the pricing file.</summary>
    public const string PriceTable = "price_table";

    /// <summary>Served from the response cache: nothing was paid.</summary>
    public const string Cache = "cache";
}
