using System.Text.Json;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Tests.Llm;

namespace LlmWorkflow.Tests.Costs;

[UnitTest]
public sealed class PriceTableTests
{
    private static readonly PriceTable Prices = TestGateways.Prices;

    /// <summary>Every row of the pricing file, read independently of PriceTable.</summary>
    public static TheoryData<string, decimal, decimal> PricedModels()
    {
        var path = Path.Combine(RepositoryRoot(), "workflows", "pricing.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var data = new TheoryData<string, decimal, decimal>();
        foreach (var model in doc.RootElement.GetProperty("models").EnumerateObject())
        {
            data.Add(model.Name, model.Value.GetProperty("inputPerMillion").GetDecimal(), model.Value.GetProperty("outputPerMillion").GetDecimal());
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PricedModels))]
    public void EveryPricedModelCostsItsListPrice(string model, decimal inputPerMillion, decimal outputPerMillion)
    {
        var id = model.EndsWith('*') ? model[..^1] + "any-model" : model;

        // 1,000,000 input + 2,000,000 output tokens cost exactly the list prices; 1,234 + 567 tokens round to 6 places.
        Assert.Equal(inputPerMillion + 2 * outputPerMillion, Prices.Cost(id, 1_000_000, 2_000_000));
        Assert.Equal(Math.Round((1_234 * inputPerMillion + 567 * outputPerMillion) / 1_000_000m, 6, MidpointRounding.AwayFromZero), Prices.Cost(id, 1_234, 567));
    }

    [Theory]
    // The documents' own figures (phase 2 report): Sonnet 3.5 at $3/$15.
    [InlineData("openrouter/anthropic/claude-3.5-sonnet", 24, 7, "0.000177")]
    [InlineData("openrouter/anthropic/claude-3.5-sonnet", 32, 58, "0.000966")]
    [InlineData("openrouter/anthropic/claude-3.5-sonnet", 23, 12, "0.000249")]
    [InlineData("openrouter/anthropic/claude-3.5-sonnet", 5000, 3000, "0.06")]
    [InlineData("anthropic/claude-3-5-sonnet-20241022", 1000, 1000, "0.018")]
    [InlineData("openrouter/anthropic/claude-opus-4", 1000, 1000, "0.09")]
    [InlineData("anthropic/claude-opus-4-1", 2000, 500, "0.0675")]
    [InlineData("openrouter/anthropic/claude-sonnet-4.5", 10000, 2000, "0.06")]
    [InlineData("openrouter/anthropic/claude-3-haiku", 1000, 1000, "0.0015")]
    [InlineData("openrouter/anthropic/claude-3.5-haiku", 1000, 1000, "0.0048")]
    [InlineData("openai/gpt-4o", 5000, 3000, "0.0425")]
    [InlineData("openai/gpt-4o-mini", 1000000, 1000000, "0.75")]
    [InlineData("openai/gpt-4.1", 1500, 700, "0.0086")]
    [InlineData("openai/gpt-5", 123456, 7890, "0.23322")]
    [InlineData("openai/gpt-5-nano", 1, 0, "0")]
    [InlineData("openai/gpt-5-nano", 10, 0, "0.000001")]
    [InlineData("openrouter/google/gemini-2.5-pro", 4000, 1000, "0.015")]
    [InlineData("openrouter/google/gemini-pro-1.5", 4000, 1000, "0.01")]
    [InlineData("openrouter/meta-llama/llama-3.1-405b-instruct", 3000, 1000, "0.0032")]
    [InlineData("openrouter/meta-llama/llama-3.3-70b-instruct", 1000, 1000, "0.00052")]
    [InlineData("mock/echo", 123456, 654321, "0")]
    public void HandComputedCosts(string model, int inputTokens, int outputTokens, string expectedUsd) =>
        Assert.Equal(decimal.Parse(expectedUsd, System.Globalization.CultureInfo.InvariantCulture), Prices.Cost(model, inputTokens, outputTokens));

    [Fact]
    public void CachedInputTokensUseTheCachedPrice() =>
        // gpt-4o: 600 fresh × $2.50 + 400 cached × $1.25 + 100 output × $10 per million.
        Assert.Equal(0.003m, Prices.Cost("openai/gpt-4o", 1000, 100, cachedInputTokens: 400));

    [Fact]
    public void UnknownModelsAreUnpricedNotFree()
    {
        Assert.Null(Prices.Cost("openrouter/unknown/model-x", 1000, 1000));
        Assert.False(Prices.TryGetPrice("openai/gpt-9000", out _));
    }

    [Fact]
    public void ConfigurationOverridesAndAddsModels()
    {
        var options = new PricingOptions();
        options.Models["openai/gpt-4o"] = new ModelPriceOverride { InputPerMillion = 1m };
        options.Models["ollama/llama3.2"] = new ModelPriceOverride { InputPerMillion = 0m, OutputPerMillion = 0m };

        var table = PriceTable.Load(options);

        Assert.True(table.TryGetPrice("openai/gpt-4o", out var gpt4o));
        Assert.Equal(new ModelPrice(1m, 10m, 1.25m), gpt4o);
        Assert.Equal(0m, table.Cost("ollama/llama3.2", 5000, 5000));
    }

    [Theory]
    [InlineData("openrouter/anthropic/claude-3.5-sonnet")]
    [InlineData("anthropic/claude-3-5-sonnet-20241022")]
    [InlineData("openrouter/anthropic/claude-3.5-haiku")]
    [InlineData("openrouter/anthropic/claude-opus-4")]
    [InlineData("openrouter/anthropic/claude-opus-4.1")]
    [InlineData("openrouter/anthropic/claude-sonnet-4")]
    [InlineData("anthropic/claude-sonnet-4-5")]
    [InlineData("openai/gpt-4o")]
    [InlineData("openrouter/openai/gpt-4o-mini")]
    [InlineData("openai/gpt-4.1")]
    [InlineData("openai/gpt-5")]
    [InlineData("openai/gpt-5-mini")]
    [InlineData("openai/o3")]
    [InlineData("openai/o4-mini")]
    [InlineData("openrouter/google/gemini-pro-1.5")]
    [InlineData("openrouter/google/gemini-flash-1.5")]
    [InlineData("openrouter/google/gemini-2.0-flash-001")]
    [InlineData("openrouter/google/gemini-2.5-pro")]
    [InlineData("openrouter/google/gemini-2.5-flash")]
    [InlineData("openrouter/meta-llama/llama-3.1-70b-instruct")]
    [InlineData("openrouter/meta-llama/llama-3.1-405b-instruct")]
    [InlineData("openrouter/meta-llama/llama-3.3-70b-instruct")]
    public void TheDocumentsAndCurrentFlagshipsArePriced(string model) => Assert.True(Prices.TryGetPrice(model, out _));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "workflows", "pricing.json")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("workflows/pricing.json not found above the test output.");
    }
}
