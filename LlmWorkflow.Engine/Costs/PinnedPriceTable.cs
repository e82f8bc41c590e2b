namespace LlmWorkflow.Engine.Costs;

/// <summary>
/// The price rows a job was pinned with (its workflow version's snapshot) in front of the current table: a model the
/// snapshot names is billed at the snapshot's price — or stays unpriced if it was then — whatever the pricing file
/// says now; a model it does not name (a fork's override, a fallback added since) is billed at today's price.
/// </summary>
public sealed class PinnedPriceTable : IPriceTable
{
    private readonly HashSet<string> _pinnedModels;
    private readonly PriceTable _pinned;
    private readonly IPriceTable _current;

    /// <param name="rows"><c>provider/model</c> → its pinned price, null for a model that was unpriced.</param>
    public PinnedPriceTable(IReadOnlyDictionary<string, ModelPrice?> rows, IPriceTable current)
    {
        _pinnedModels = new HashSet<string>(rows.Keys, StringComparer.OrdinalIgnoreCase);
        _pinned = new PriceTable(rows.Where(r => r.Value is not null).ToDictionary(r => r.Key, r => r.Value!, StringComparer.OrdinalIgnoreCase));
        _current = current;
    }

    public bool TryGetPrice(string model, out ModelPrice price) =>
        _pinnedModels.Contains(model) ? _pinned.TryGetPrice(model, out price) : _current.TryGetPrice(model, out price);

    public decimal? Cost(string model, int inputTokens, int outputTokens) => Cost(model, inputTokens, outputTokens, 0);

    public decimal? Cost(string model, int inputTokens, int outputTokens, int cachedInputTokens) =>
        _pinnedModels.Contains(model)
            ? _pinned.Cost(model, inputTokens, outputTokens, cachedInputTokens)
            : _current.Cost(model, inputTokens, outputTokens, cachedInputTokens);
}
