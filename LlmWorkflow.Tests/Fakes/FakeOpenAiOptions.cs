namespace LlmWorkflow.Tests.Fakes;

/// <summary>Default behaviour of <see cref="FakeOpenAiServer"/> (scripted responses override it per request).</summary>
public sealed record FakeOpenAiOptions
{
    /// <summary>Streamed as these chunks; the non-streaming answer is their concatenation.</summary>
    public IReadOnlyList<string> Chunks { get; init; } = ["Hello", " from", " the", " fake"];

    public int PromptTokens { get; init; } = 12;

    public int CompletionTokens { get; init; } = 4;

    /// <summary>Report usage (and, streaming, the usage chunk the client asked for with stream_options).</summary>
    public bool IncludeUsage { get; init; } = true;

    /// <summary>OpenRouter's <c>usage.cost</c>, sent only when the request asked for <c>usage.include</c>.</summary>
    public decimal? ReportedCost { get; init; }

    /// <summary>Path prefix of the API (the SDK's endpoint is <c>BaseUrl + ApiPrefix</c>).</summary>
    public string ApiPrefix { get; init; } = "v1";

    /// <summary>Serve https with this certificate (HTTP/2 or HTTP/1.1, as the client agrees); plain http when null.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>Pause between streamed chunks.</summary>
    public TimeSpan ChunkDelay { get; init; }

    public string Text => string.Concat(Chunks);
}
