using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// The service tiers a job may ask for (<c>service_tier</c>): <see cref="Standard"/> (the default) or
/// <see cref="Flex"/> (OpenAI's flex processing: the same synchronous call, slower and sometimes refused with a 429,
/// billed at the Batch API's rates) or <see cref="Batch"/> (OpenAI's Batch API or Anthropic's Message Batches: the call is
/// sent as a one-request batch and the job parks, holding no worker slot, until the batch ends; docs/ADMISSION.md).
/// </summary>
public static class ServiceTiers
{
    public const string Standard = "standard";

    public const string Flex = "flex";

    public const string Batch = "batch";

    /// <summary>The tiers a submission may name today.</summary>
    public static readonly IReadOnlyList<string> Accepted = [Standard, Flex, Batch];

    /// <summary>The key under which a chat client is told the tier to send, and reports the tier that answered.</summary>
    public const string PropertyName = "service_tier";

    /// <summary>Asks the chat client to send <paramref name="tier"/> (only OpenAI-protocol clients read it).</summary>
    public static void Request(ChatOptions options, string tier) => (options.AdditionalProperties ??= [])[PropertyName] = tier;

    public static string? Requested(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(PropertyName, out var value) ? value as string : null;

    /// <summary>Records the tier the provider says served the call (OpenAI's response <c>service_tier</c>).</summary>
    public static void SetAnswered(ref AdditionalPropertiesDictionary? properties, string tier) => (properties ??= [])[PropertyName] = tier;

    public static string? Answered(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(PropertyName, out var value) ? value as string : null;

    /// <summary>
    /// The tier a call was billed at: flex when it was sent at flex and the answer did not say otherwise (OpenAI
    /// answers <c>flex</c>; <c>default</c>, <c>auto</c> or <c>priority</c> mean it ran at the standard price).
    /// </summary>
    public static string Used(bool sentFlex, string? answered) =>
        answered is null ? (sentFlex ? Flex : Standard)
        : string.Equals(answered, Flex, StringComparison.OrdinalIgnoreCase) ? Flex
        : Standard;
}

/// <summary>What a job asked for: its tier and, for flex or batch, the time its calls must be answered by.</summary>
/// <param name="Deadline">
/// With flex: refused flex calls are retried (with backoff) while the deadline leaves more than
/// <see cref="FlexOptions.FallbackMargin"/>, then sent at standard. Without one a refused flex call falls back at once.
/// </param>
/// <param name="BesideOthers">
/// The call runs beside others (a <c>parallel</c> branch or a <c>for_each</c> iteration). A job records one wait, so two
/// side-by-side batch steps parking together could lose one batch's record and pay for it twice: such a call is not
/// sent as a batch (it runs at standard and says so).
/// </param>
public sealed record ServiceTierRequest(string Tier, DateTimeOffset? Deadline = null, bool BesideOthers = false)
{
    public bool IsFlex => Tier == ServiceTiers.Flex;

    public bool IsBatch => Tier == ServiceTiers.Batch;
}
