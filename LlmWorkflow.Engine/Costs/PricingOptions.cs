namespace LlmWorkflow.Engine.Costs;

/// <summary>Configuration section <c>Pricing</c>: where the pricing file is and per-model overrides.</summary>
public sealed class PricingOptions
{
    public const string SectionName = "Pricing";

    /// <summary>Pricing file; relative paths are looked up from the working directory, then upwards from the app.</summary>
    public string FilePath { get; set; } = "workflows/pricing.json";

    /// <summary>Overrides keyed by <c>provider/model</c> id (<c>Pricing:Models:&lt;id&gt;:InputPerMillion</c>).</summary>
    public Dictionary<string, ModelPriceOverride> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One configured price; missing fields keep the pricing file's value.</summary>
public sealed class ModelPriceOverride
{
    public decimal? InputPerMillion { get; set; }

    public decimal? OutputPerMillion { get; set; }

    public decimal? CachedInputPerMillion { get; set; }
}
