namespace LlmWorkflow.Engine.Costs;

/// <summary>Prices in USD per million tokens.</summary>
public sealed record ModelPrice(decimal InputPerMillion, decimal OutputPerMillion, decimal? CachedInputPerMillion = null);

/// <summary>The single price table used by billing and by dry-run estimates.</summary>
public interface IPriceTable
{
    /// <summary>Looks up a <c>provider/model</c> id; false means the model is unpriced.</summary>
    bool TryGetPrice(string model, out ModelPrice price);

    /// <summary>Cost rounded to 6 decimal places, or null when unpriced.</summary>
    decimal? Cost(string model, int inputTokens, int outputTokens);

    /// <summary>
    /// Cost where <paramref name="cachedInputTokens"/> of the input tokens came from the provider's prompt cache
    /// (billed at <see cref="ModelPrice.CachedInputPerMillion"/> where the model has one).
    /// </summary>
    decimal? Cost(string model, int inputTokens, int outputTokens, int cachedInputTokens) => Cost(model, inputTokens, outputTokens);
}
