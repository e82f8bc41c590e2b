using LlmWorkflow.Engine.Costs;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// What the engine's <c>llm</c> step calls. The implementation routes <c>provider/model</c> ids to
/// <see cref="IChatClient"/>s, walks the fallback chain, retries, caches and prices the call.
/// Failures are thrown as <see cref="Execution.WorkflowException"/> with a category.
/// </summary>
public interface ILlmGateway
{
    Task<LlmCallResult> CompleteAsync(LlmCallRequest request, CancellationToken cancellationToken);
}

/// <param name="Models">Fallback chain of <c>provider/model</c> ids, tried in order.</param>
/// <param name="OnDelta">Receives streamed text deltas when <paramref name="Stream"/> is true.</param>
/// <param name="CacheTtl">Opt-in exact-match response cache lifetime; null = no caching.</param>
/// <param name="OnRefusedAnswer">
/// Receives a call that was answered (and so paid) but whose answer was refused (over <c>Llm:MaxAnswerBytes</c>),
/// with estimated usage, so it is recorded even though the step does not get an answer.
/// </param>
/// <param name="Prices">The job's pinned prices (its workflow version's rows); null bills at the gateway's table.</param>
/// <param name="ServiceTier">The job's service tier (and deadline); null = standard.</param>
/// <param name="Priority">The job's priority (0-10), which the admission's priority band reads; null outside a job.</param>
/// <param name="Batch">A batch job's step resumed from its <c>batch</c> wait: the batch it recorded (key, and id once created).</param>
/// <param name="ResponseFormat">
/// The answer's format when it is more than <paramref name="JsonResponse"/> says: a JSON schema
/// (<see cref="ChatResponseFormat.ForJsonSchema(System.Text.Json.JsonElement, string?, string?)"/>) that providers enforcing
/// schemas natively are sent; null = plain JSON or text.
/// </param>
public sealed record LlmCallRequest(
    IReadOnlyList<string> Models,
    IReadOnlyList<ChatMessage> Messages,
    float? Temperature = null,
    int? MaxTokens = null,
    bool JsonResponse = false,
    bool Stream = false,
    Action<string>? OnDelta = null,
    TimeSpan? CacheTtl = null,
    string? WorkflowName = null,
    string? StepId = null,
    Action<LlmCallResult>? OnRefusedAnswer = null,
    IPriceTable? Prices = null,
    string? TenantId = null,
    string? UserId = null,
    ServiceTierRequest? ServiceTier = null,
    Batches.BatchState? Batch = null,
    ChatResponseFormat? ResponseFormat = null,
    int? Priority = null)
{
    /// <summary>The lowest priority of the high band (7-10), the band the dispatch queue reads first (PriorityBands).</summary>
    public const int HighPriorityBand = 7;

    /// <summary>Whether the call is a high-band job's (<see cref="HighPriorityBand"/> or more): interactive work.</summary>
    public bool IsHighPriority => Priority >= HighPriorityBand;

    private static readonly AsyncLocal<LlmCallRequest?> CurrentCall = new();

    /// <summary>
    /// The call the gateway makes on this async flow, for the middleware around the provider's client (admission reads
    /// its tenant, user and step); null outside a gateway call.
    /// </summary>
    public static LlmCallRequest? Current
    {
        get => CurrentCall.Value;
        internal set => CurrentCall.Value = value;
    }
}

/// <summary>One model tried in a fallback chain and why it did not answer (null Error = it answered).</summary>
public sealed record ModelAttempt(string Model, string? Error, double DurationMs);

public sealed record LlmCallResult
{
    public required string Text { get; init; }

    /// <summary>Provider that answered: openrouter, openai, anthropic, mock, or a configured compatible endpoint.</summary>
    public required string Provider { get; init; }

    /// <summary>Full <c>provider/model</c> id that answered.</summary>
    public required string Model { get; init; }

    public int InputTokens { get; init; }

    public int OutputTokens { get; init; }

    public int TotalTokens => InputTokens + OutputTokens;

    /// <summary>USD, 6 decimal places; null when the model is unpriced (never a silent zero).</summary>
    public decimal? CostUsd { get; init; }

    public bool Priced => CostUsd is not null;

    /// <summary>Where <see cref="CostUsd"/> came from; see <see cref="CostSources"/>. Null when unpriced.</summary>
    public string? CostSource { get; init; }

    /// <summary>Token counts were estimated locally because the provider did not report usage.</summary>
    public bool UsageEstimated { get; init; }

    public bool CacheHit { get; init; }

    public double DurationMs { get; init; }

    /// <summary>Hash of the rendered prompt, for caching and audit.</summary>
    public string? PromptHash { get; init; }

    public IReadOnlyList<ModelAttempt> Attempts { get; init; } = [];

    /// <summary>The tier the call was served and billed at (<see cref="ServiceTiers"/>); standard unless flex or a batch answered.</summary>
    public string ServiceTier { get; init; } = ServiceTiers.Standard;

    /// <summary>The tier the job asked for, when it asked for one; null for jobs of the standard tier.</summary>
    public string? RequestedServiceTier { get; init; }

    /// <summary>What the call would have cost at the list (standard) price; equals <see cref="CostUsd"/> at standard.</summary>
    public decimal? ListCostUsd { get; init; }

    /// <summary>What the tier saved: <see cref="ListCostUsd"/> minus <see cref="CostUsd"/>.</summary>
    public decimal? DiscountUsd => ListCostUsd - CostUsd;

    /// <summary>Bytes of the answer that were not valid UTF-8 and were replaced by U+FFFD before it was parsed.</summary>
    public int InvalidUtf8Replaced { get; init; }
}
