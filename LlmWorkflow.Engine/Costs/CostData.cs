using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Costs;

/// <summary>
/// The documents' <c>cost_data</c> of a finished run: totals over every LLM call, <see cref="Provider"/> and
/// <see cref="Model"/> of the last call that answered (the documents' single-model fields), and
/// <see cref="Models"/>, the same totals per model in first-use order.
/// </summary>
public sealed record CostData
{
    [JsonPropertyName("provider")]
    public string? Provider { get; init; }

    [JsonPropertyName("model")]
    public string? Model { get; init; }

    [JsonPropertyName("input_tokens")]
    public int InputTokens { get; init; }

    [JsonPropertyName("output_tokens")]
    public int OutputTokens { get; init; }

    [JsonPropertyName("total_tokens")]
    public int TotalTokens { get; init; }

    /// <summary>USD; null when calls were made but none was priced, 0 when no call was made.</summary>
    [JsonPropertyName("cost_usd")]
    public decimal? CostUsd { get; init; }

    [JsonPropertyName("unpriced")]
    public bool Unpriced { get; init; }

    /// <summary>The tier the job asked for (flex); absent for standard jobs. Each step's usage says which tier served it.</summary>
    [JsonPropertyName("requested_service_tier")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RequestedServiceTier { get; init; }

    /// <summary>The priced calls at list (standard) prices; with <see cref="DiscountUsd"/>, only for jobs of a cheaper tier.</summary>
    [JsonPropertyName("list_cost_usd")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? ListCostUsd { get; init; }

    /// <summary>What the cheaper tier saved: <see cref="ListCostUsd"/> minus <see cref="CostUsd"/>.</summary>
    [JsonPropertyName("discount_usd")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? DiscountUsd { get; init; }

    [JsonPropertyName("models")]
    public IReadOnlyList<ModelCost> Models { get; init; } = [];

    public static CostData From(WorkflowRunResult result) => new()
    {
        Provider = result.Provider,
        Model = result.Model,
        InputTokens = result.InputTokens,
        OutputTokens = result.OutputTokens,
        TotalTokens = result.TotalTokens,
        CostUsd = result.CostUsd ?? (result.Unpriced ? null : 0m),
        Unpriced = result.Unpriced,
        Models = result.Models,
        RequestedServiceTier = result.RequestedServiceTier,
        ListCostUsd = result.RequestedServiceTier is null ? null : result.ListCostUsd ?? 0m,
        DiscountUsd = result.RequestedServiceTier is null ? null : (result.ListCostUsd ?? 0m) - (result.CostUsd ?? 0m),
    };

    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, CostDataJsonContext.Default.CostData)!.AsObject();
}

[JsonSerializable(typeof(CostData))]
internal sealed partial class CostDataJsonContext : JsonSerializerContext;
