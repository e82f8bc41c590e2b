using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Tests.Engine.Fakes;

/// <summary>A price table over a dictionary of <c>provider/model</c> ids.</summary>
internal sealed class DictionaryPriceTable(Dictionary<string, ModelPrice> prices) : IPriceTable
{
    public bool TryGetPrice(string model, out ModelPrice price) => prices.TryGetValue(model, out price!);

    public decimal? Cost(string model, int inputTokens, int outputTokens) =>
        TryGetPrice(model, out var price)
            ? Math.Round(((inputTokens * price.InputPerMillion) + (outputTokens * price.OutputPerMillion)) / 1_000_000m, 6)
            : null;
}
