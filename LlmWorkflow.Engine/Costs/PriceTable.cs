using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Engine.Costs;

/// <summary>
/// Prices from the pricing file plus configuration overrides. Lookup is exact, then the longest
/// <c>prefix/*</c> wildcard (e.g. <c>mock/*</c>). Unknown models are unpriced: cost null and one warning per model.
/// </summary>
public sealed class PriceTable : IPriceTable
{
    private const decimal TokensPerMillion = 1_000_000m;

    private readonly FrozenDictionary<string, ModelPrice> _exact;
    private readonly (string Prefix, ModelPrice Price)[] _wildcards;
    private readonly ILogger _logger;
    private readonly HashSet<string> _warnedUnpriced = new(StringComparer.OrdinalIgnoreCase);

    public PriceTable(IReadOnlyDictionary<string, ModelPrice> prices, ILogger<PriceTable>? logger = null)
    {
        _logger = logger ?? NullLogger<PriceTable>.Instance;
        _exact = prices.Where(p => !p.Key.EndsWith('*'))
            .ToFrozenDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
        _wildcards = [.. prices.Where(p => p.Key.EndsWith('*'))
            .Select(p => (Prefix: p.Key[..^1], p.Value))
            .OrderByDescending(p => p.Prefix.Length)];
    }

    /// <summary>Loads the pricing file named by the options and applies the configured overrides.</summary>
    public static PriceTable Load(PricingOptions options, ILogger<PriceTable>? logger = null)
    {
        var path = DataFileLocator.Find(options.FilePath)
            ?? throw new FileNotFoundException($"Pricing file '{options.FilePath}' was not found.", options.FilePath);
        using var stream = File.OpenRead(path);
        var file = JsonSerializer.Deserialize<PricingFile>(stream, PricingFile.SerializerOptions)
            ?? throw new InvalidDataException($"Pricing file '{path}' is empty.");

        var prices = new Dictionary<string, ModelPrice>(file.Models, StringComparer.OrdinalIgnoreCase);
        foreach (var (model, change) in options.Models)
        {
            prices.TryGetValue(model, out var current);
            prices[model] = new ModelPrice(
                change.InputPerMillion ?? current?.InputPerMillion ?? 0m,
                change.OutputPerMillion ?? current?.OutputPerMillion ?? 0m,
                change.CachedInputPerMillion ?? current?.CachedInputPerMillion);
        }

        return new PriceTable(prices, logger);
    }

    public bool TryGetPrice(string model, out ModelPrice price)
    {
        if (_exact.TryGetValue(model, out price!))
        {
            return true;
        }

        foreach (var (prefix, wildcardPrice) in _wildcards)
        {
            if (model.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                price = wildcardPrice;
                return true;
            }
        }

        price = null!;
        return false;
    }

    public decimal? Cost(string model, int inputTokens, int outputTokens) => Cost(model, inputTokens, outputTokens, 0);

    /// <summary>
    /// Cost where <paramref name="cachedInputTokens"/> of the input tokens were served from the provider's prompt
    /// cache (billed at the cached-input price when the model has one).
    /// </summary>
    public decimal? Cost(string model, int inputTokens, int outputTokens, int cachedInputTokens)
    {
        if (!TryGetPrice(model, out var price))
        {
            WarnUnpriced(model);
            return null;
        }

        var cached = price.CachedInputPerMillion is null ? 0 : Math.Clamp(cachedInputTokens, 0, inputTokens);
        var usd = ((inputTokens - cached) * price.InputPerMillion
            + cached * (price.CachedInputPerMillion ?? 0m)
            + outputTokens * price.OutputPerMillion) / TokensPerMillion;
        return Math.Round(usd, 6, MidpointRounding.AwayFromZero);
    }

    private void WarnUnpriced(string model)
    {
        bool first;
        lock (_warnedUnpriced)
        {
            first = _warnedUnpriced.Add(model);
        }

        if (first)
        {
            _logger.LogWarning("Model {Model} has no price in the pricing file; its cost is reported as unpriced", model);
        }
    }

    private sealed record PricingFile(Dictionary<string, ModelPrice> Models)
    {
        public static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web)
        {
            ReadCommentHandling = JsonCommentHandling.Skip,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        };
    }
}
