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

    /// <summary>Flex processing: its retries, fallback margin, attempt timeout and price (<c>Llm:Flex</c>).</summary>
    public FlexOptions Flex { get; set; } = new();

    /// <summary>Batch API calls: how often a parked batch is looked at, when it falls back, its price (<c>Llm:Batch</c>).</summary>
    public Batches.BatchOptions Batch { get; set; } = new();

    /// <summary>Limit for one HTTP attempt (a retry gets a fresh one).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The largest answer body (bytes on the wire, JSON or SSE) read from a provider. A larger answer is refused
    /// without being read further: the step fails with <c>answer_too_large</c> and the call is not repeated.
    /// </summary>
    public long MaxAnswerBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>What the LLM call spans carry beyond the GenAI conventions' model, usage and cost.</summary>
    public LlmTelemetryOptions Telemetry { get; set; } = new();
}

/// <summary>Section <c>Llm:Telemetry</c>.</summary>
public sealed class LlmTelemetryOptions
{
    /// <summary>
    /// Opt-in (off by default): each <c>chat</c> span carries the prompt (<c>gen_ai.input.messages</c>) and the answer
    /// (<c>gen_ai.output.messages</c>) in the OpenTelemetry GenAI conventions' JSON, which the Aspire dashboard's GenAI
    /// view shows. Redacted as the logs are (e-mail addresses, API keys, decision links) before export; prompts may
    /// still hold personal data, so turn it on where the telemetry store may keep it.
    /// </summary>
    public bool CaptureMessages { get; set; }
}
