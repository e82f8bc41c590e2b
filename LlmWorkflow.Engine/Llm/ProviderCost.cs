using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// A cost the provider itself reported (OpenRouter's <c>usage.cost</c>), carried from an adapter to the gateway in
/// <see cref="AdditionalPropertiesDictionary"/> so the gateway can prefer it over the price table.
/// </summary>
public static class ProviderCost
{
    public const string PropertyName = "provider_cost_usd";

    public static void Set(ref AdditionalPropertiesDictionary? properties, decimal costUsd) =>
        (properties ??= [])[PropertyName] = costUsd;

    public static decimal? Get(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(PropertyName, out var value) && value is decimal cost ? cost : null;
}
