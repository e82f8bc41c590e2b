namespace LlmWorkflow.Engine.Llm;

/// <summary>Configuration section <c>Llm</c>: providers, the mock provider, retries and timeouts.</summary>
public sealed class LlmOptions
{
    public const string SectionName = "Llm";

    /// <summary>
    /// Providers by name (<c>Llm:Providers:ollama:BaseUrl</c>). <c>openai</c>, <c>openrouter</c>, <c>anthropic</c>
    /// and <c>mock</c> exist without configuration; other names need a <see cref="LlmProviderOptions.BaseUrl"/>.
    /// </summary>
    public Dictionary<string, LlmProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public MockProviderOptions Mock { get; set; } = new();

    public LlmRetryOptions Retry { get; set; } = new();

    /// <summary>Limit for one HTTP attempt (a retry gets a fresh one).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(120);
}
