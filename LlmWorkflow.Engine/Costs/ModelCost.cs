using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Costs;

/// <summary>One model's share of a run's LLM usage (an entry of <c>cost_data.models</c>).</summary>
public sealed record ModelCost
{
    /// <summary>Provider that answered: openrouter, openai, anthropic, mock or a configured endpoint.</summary>
    [JsonPropertyName("provider")]
    public required string Provider { get; init; }

    /// <summary>Full <c>provider/model</c> id that answered.</summary>
    [JsonPropertyName("model")]
    public required string Model { get; init; }

    /// <summary>LLM calls this model answered.</summary>
    [JsonPropertyName("calls")]
    public int Calls { get; init; }

    [JsonPropertyName("input_tokens")]
    public int InputTokens { get; init; }

    [JsonPropertyName("output_tokens")]
    public int OutputTokens { get; init; }

    /// <summary>USD of the priced calls; null when none of them was priced.</summary>
    [JsonPropertyName("cost_usd")]
    public decimal? CostUsd { get; init; }

    /// <summary>At least one call had no price, so <see cref="CostUsd"/> is missing or a lower bound.</summary>
    [JsonPropertyName("unpriced")]
    public bool Unpriced { get; init; }
}
