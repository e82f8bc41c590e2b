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
}
