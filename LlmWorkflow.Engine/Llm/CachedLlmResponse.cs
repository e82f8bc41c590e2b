namespace LlmWorkflow.Engine.Llm;

/// <summary>What the exact-match response cache keeps: the answer and the usage as the provider first reported it.</summary>
internal sealed record CachedLlmResponse(
    string Text,
    string Provider,
    string Model,
    int InputTokens,
    int OutputTokens,
    bool UsageEstimated);
