namespace LlmWorkflow.Tests.Fakes;

/// <summary>A scripted answer for the next request a fake receives (instead of its default behaviour).</summary>
public sealed record FakeResponse(int StatusCode, string Body = "", string ContentType = "application/json")
{
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Raw bytes sent instead of <see cref="Body"/> (e.g. bytes that are not valid UTF-8).</summary>
    public byte[]? BodyBytes { get; init; }

    /// <summary>Wait before answering (on top of the server-wide latency).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Never answer: the request stays open until the client gives up (timeouts, cancellation).</summary>
    public bool Hang { get; init; }

    /// <summary>
    /// Server-sent events written one by one (<c>data: …</c>, flushed, <see cref="EventDelay"/> apart) instead of
    /// <see cref="Body"/>: a streamed answer; <see cref="FakeOpenAiStream"/> builds OpenAI's.
    /// </summary>
    public IReadOnlyList<string>? Events { get; init; }

    public TimeSpan EventDelay { get; init; }

    /// <summary>After the events, drop the connection instead of ending the stream (a provider failing mid-answer).</summary>
    public bool AbortAfterEvents { get; init; }

    /// <summary>After the events, keep the stream open and silent until the client gives up (a provider stalled mid-answer).</summary>
    public bool HangAfterEvents { get; init; }

    public static FakeResponse Hanging() => new(200) { Hang = true };

    public FakeResponse WithRetryAfter(TimeSpan retryAfter) =>
        this with { Headers = new Dictionary<string, string>(Headers) { ["Retry-After"] = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) } };
}
