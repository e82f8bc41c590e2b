namespace LlmWorkflow.Engine.Llm;

/// <summary>One provider: how to reach it and how it authenticates.</summary>
public sealed class LlmProviderOptions
{
    /// <summary><c>openai-compatible</c> (default for unknown names), <c>openrouter</c>, <c>anthropic</c> or <c>mock</c>.</summary>
    public string? Kind { get; set; }

    public string? BaseUrl { get; set; }

    /// <summary>Key from configuration; otherwise read from <see cref="ApiKeyEnvironmentVariable"/>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Environment variable holding the key (defaults: OPENAI_API_KEY, OPENROUTER_API_KEY, ANTHROPIC_API_KEY).</summary>
    public string? ApiKeyEnvironmentVariable { get; set; }

    /// <summary>Whether calls fail without a key; local endpoints such as Ollama need none.</summary>
    public bool? RequiresApiKey { get; set; }

    /// <summary>OpenRouter's <c>HTTP-Referer</c> attribution header.</summary>
    public string? Referer { get; set; }

    /// <summary>OpenRouter's <c>X-Title</c> attribution header.</summary>
    public string? Title { get; set; }

    /// <summary>
    /// Whether jobs of the flex tier send <c>service_tier: "flex"</c> to this provider. Default: true for the
    /// <c>openai</c> kind, false for every other; true is honoured only by OpenAI-protocol providers (<c>openai</c>,
    /// <c>openai-compatible</c>, e.g. a gateway in front of OpenAI). Elsewhere flex jobs run at standard and say so.
    /// </summary>
    public bool? FlexTier { get; set; }

    /// <summary>
    /// Sends batch jobs' calls through the Batch API (<c>/files</c> + <c>/batches</c>). Null means true for the
    /// <c>openai</c> and <c>anthropic</c> kinds (Anthropic's Message Batches), false for every other; true is honoured by
    /// those and by <c>openai-compatible</c> (e.g. a gateway in front of OpenAI that serves its Batch API). Elsewhere
    /// batch jobs run at standard and say so.
    /// </summary>
    public bool? BatchTier { get; set; }

    /// <summary>
    /// The limits of the API key this provider uses (<c>Llm:Providers:&lt;name&gt;:KeyLimits:…</c>): every provider
    /// whose key resolves to the same one reserves in one scope, <c>key:&lt;fingerprint&gt;</c> (docs/ADMISSION.md).
    /// </summary>
    public Admission.LlmLimit? KeyLimits { get; set; }

    /// <summary>Extra request headers (e.g. a gateway's routing header).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}
