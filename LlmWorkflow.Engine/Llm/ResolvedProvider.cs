namespace LlmWorkflow.Engine.Llm;

/// <summary>A provider's effective settings after defaults, configuration and environment are combined.</summary>
/// <param name="ApiKeySource">Where the key is expected, for error messages: an environment variable or config key.</param>
public sealed record ResolvedProvider(
    string Name,
    ProviderKind Kind,
    Uri? BaseUrl,
    string? ApiKey,
    string ApiKeySource,
    bool RequiresApiKey,
    LlmProviderOptions Options)
{
    public bool HasUsableKey => !RequiresApiKey || !string.IsNullOrEmpty(ApiKey);

    /// <summary>Sends flex jobs' calls at <c>service_tier: "flex"</c> (see <see cref="LlmProviderOptions.FlexTier"/>).</summary>
    public bool SupportsFlex => Kind is ProviderKind.OpenAi or ProviderKind.OpenAiCompatible && (Options.FlexTier ?? Kind == ProviderKind.OpenAi);

    /// <summary>Sends batch jobs' calls as batches (see <see cref="LlmProviderOptions.BatchTier"/>).</summary>
    public bool SupportsBatch => Kind is ProviderKind.OpenAi or ProviderKind.OpenAiCompatible or ProviderKind.Anthropic
        && (Options.BatchTier ?? Kind is ProviderKind.OpenAi or ProviderKind.Anthropic);
}
