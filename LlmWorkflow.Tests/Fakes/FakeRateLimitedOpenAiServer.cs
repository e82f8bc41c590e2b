using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// A fake OpenAI chat-completions endpoint that enforces a tokens-per-window limit the way a provider does: a sliding
/// window of the tokens it accepted (prompt tokens counted with the model's tokenizer, plus the answer's
/// <see cref="CompletionTokens"/>); a request that would go over it is answered 429 with <c>retry-after</c> and
/// <c>x-ratelimit-remaining-tokens</c>, and is not counted. Every answer says the limit as OpenAI does:
/// <c>x-ratelimit-limit-tokens</c>, <c>x-ratelimit-remaining-tokens</c> and <c>x-ratelimit-reset-tokens</c>. The limit
/// can be lowered mid-run (<see cref="LowerLimitAfter"/>), as a provider does when it changes a key's tier. Each API
/// key (the bearer token) has its own window, as a provider's limits are its key's account's.
/// </summary>
public sealed class FakeRateLimitedOpenAiServer : FakeHttpServer
{
    private readonly Lock _gate = new();
    private readonly List<(DateTimeOffset At, int Tokens, string Body, string Key)> _accepted = [];
    private readonly List<(DateTimeOffset At, int Used, int Tokens, string Body)> _rateLimitedAt = [];
    private int _tokensPerWindow;
    private (int AfterAnswers, int Tokens)? _lowering;

    private FakeRateLimitedOpenAiServer(int tokensPerWindow, TimeSpan window)
    {
        _tokensPerWindow = tokensPerWindow;
        Window = window;
    }

    /// <summary>The limit now (lower after <see cref="LowerLimitAfter"/> took effect).</summary>
    public int TokensPerWindow
    {
        get
        {
            lock (_gate)
            {
                return _tokensPerWindow;
            }
        }
    }

    /// <summary>When the limit was lowered; null before.</summary>
    public DateTimeOffset? LimitLoweredAt { get; private set; }

    public TimeSpan Window { get; }

    public int CompletionTokens { get; init; } = 200;

    /// <summary>Requests per window (OpenAI's RPM), enforced and said in <c>x-ratelimit-*-requests</c>; null: not limited.</summary>
    public int? RequestsPerWindow { get; init; }

    /// <summary>What the provider does now instead of answering: nothing (answers), 500s, or no answer at all.</summary>
    public FakeOutage Outage
    {
        get => _outage;
        set => _outage = value;
    }

    private volatile FakeOutage _outage;

    /// <summary>Requests answered 500 or left unanswered by an <see cref="Outage"/>.</summary>
    public int OutageRequests => _outageRequests;

    private int _outageRequests;

    public Uri ApiUrl => new(BaseUrl, "v1/");

    /// <summary>429 answers sent.</summary>
    public int RateLimited => RateLimitedAt.Count;

    /// <summary>When each 429 was sent.</summary>
    public IReadOnlyList<DateTimeOffset> RateLimitedAt => [.. RateLimitedCalls.Select(c => c.At)];

    /// <summary>Each 429: when, the tokens the window held, the refused call's tokens, its request body.</summary>
    public IReadOnlyList<(DateTimeOffset At, int Used, int Tokens, string Body)> RateLimitedCalls
    {
        get
        {
            lock (_gate)
            {
                return [.. _rateLimitedAt];
            }
        }
    }

    /// <summary>Answered calls: when, how many tokens, the request body.</summary>
    public IReadOnlyList<(DateTimeOffset At, int Tokens, string Body)> Accepted
    {
        get
        {
            lock (_gate)
            {
                return [.. _accepted.Select(c => (c.At, c.Tokens, c.Body))];
            }
        }
    }

    public static async Task<FakeRateLimitedOpenAiServer> StartAsync(int tokensPerWindow, TimeSpan window, int completionTokens = 200, int? requestsPerWindow = null)
    {
        var server = new FakeRateLimitedOpenAiServer(tokensPerWindow, window) { CompletionTokens = completionTokens, RequestsPerWindow = requestsPerWindow };
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Lowers the limit to <paramref name="tokens"/> once <paramref name="answers"/> calls have been answered.</summary>
    public void LowerLimitAfter(int answers, int tokens)
    {
        lock (_gate)
        {
            _lowering = (answers, tokens);
        }
    }

    /// <summary>
    /// The most tokens answered within any one window (each window starting at an answered call), counting only the
    /// calls answered from <paramref name="since"/> on, and only those made with <paramref name="apiKey"/> when given.
    /// </summary>
    public int PeakWindowTokens(DateTimeOffset? since = null, string? apiKey = null)
    {
        List<(DateTimeOffset At, int Tokens, string Body, string Key)> calls;
        lock (_gate)
        {
            calls = [.. _accepted.Where(c => c.At >= (since ?? DateTimeOffset.MinValue) && (apiKey is null || c.Key == apiKey))];
        }

        return calls.Count == 0 ? 0 : calls.Max(start => calls.Where(c => c.At >= start.At && c.At < start.At + Window).Sum(c => c.Tokens));
    }

    /// <summary>How many answered calls have <paramref name="marker"/> in their prompt.</summary>
    public int AnsweredContaining(string marker) => Accepted.Count(c => c.Body.Contains(marker, StringComparison.Ordinal));

    private void LowerLimitIfDue(DateTimeOffset now)
    {
        if (_lowering is { } lowering && _accepted.Count >= lowering.AfterAnswers)
        {
            _tokensPerWindow = lowering.Tokens;
            _lowering = null;
            LimitLoweredAt = now;
        }
    }

    /// <summary>OpenAI's reset headers' form: <c>6m0s</c>, <c>1.5s</c>, <c>20ms</c>.</summary>
    private static string OpenAiDuration(TimeSpan span) => span switch
    {
        { TotalSeconds: < 1 } => $"{Math.Max(0, (int)span.TotalMilliseconds)}ms",
        { TotalMinutes: < 1 } => string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.###}s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes}m{span.Seconds}s"),
    };

    /// <summary>A message's text: a string, or the text parts of an array of content parts.</summary>
    private static string Text(JsonNode? content) => content switch
    {
        JsonValue value => value.GetValue<string>(),
        JsonArray parts => string.Concat(parts.Select(p => (string?)p?["text"])),
        _ => "",
    };

    protected override string ErrorBody(int statusCode, string message) => new JsonObject
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = "tokens", ["code"] = "rate_limit_exceeded" },
    }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        switch (Outage)
        {
            case FakeOutage.ServerErrors:
                Interlocked.Increment(ref _outageRequests);
                await WriteJsonAsync(context, new JsonObject { ["error"] = new JsonObject { ["message"] = "The server had an error", ["type"] = "server_error" } }.ToJsonString(), 500);
                return;
            case FakeOutage.Silent:
                Interlocked.Increment(ref _outageRequests);
                // No answer until the caller gives up (its attempt timeout) or the outage ends.
                while (Outage == FakeOutage.Silent && !context.RequestAborted.IsCancellationRequested)
                {
                    await Task.Delay(50, CancellationToken.None);
                }

                context.Abort();
                return;
        }

        var body = (JsonObject)request.Json!;
        var model = body["model"]?.GetValue<string>() ?? "gpt-4o-mini";
        var messages = body["messages"]!.AsArray().Select(m => new ChatMessage(ChatRole.User, Text(m!["content"]))).ToList();
        var promptTokens = PromptTokenCounter.Count(new ModelId("openai", model), messages);
        var tokens = promptTokens + CompletionTokens;
        var key = request.Headers.GetValueOrDefault("Authorization", "");
        key = key.StartsWith("Bearer ", StringComparison.Ordinal) ? key["Bearer ".Length..] : key;
        DateTimeOffset now;
        int limit, remaining, requestsInWindow;
        TimeSpan reset;
        TimeSpan? retryAfter = null;
        lock (_gate)
        {
            // Taken under the lock, so calls are stamped in the order they were counted (a lowered limit is checked
            // against every call stamped after it).
            now = DateTimeOffset.UtcNow;
            limit = _tokensPerWindow;
            var inWindow = _accepted.Where(c => c.At > now - Window && c.Key == key).ToList();
            var used = inWindow.Sum(c => c.Tokens);
            if (RequestsPerWindow is { } rpm && inWindow.Count >= rpm)
            {
                _rateLimitedAt.Add((now, used, tokens, request.Body));
                retryAfter = inWindow[inWindow.Count - rpm].At + Window - now;
            }
            else if (used + tokens > limit)
            {
                _rateLimitedAt.Add((now, used, tokens, request.Body));
                // Until enough of the oldest calls have left the window.
                var freed = 0;
                foreach (var call in inWindow)
                {
                    freed += call.Tokens;
                    if (used - freed + tokens <= limit)
                    {
                        retryAfter = call.At + Window - now;
                        break;
                    }
                }

                retryAfter ??= Window;
            }
            else
            {
                _accepted.Add((now, tokens, request.Body, key));
                inWindow.Add((now, tokens, request.Body, key));
                used += tokens;
                LowerLimitIfDue(now);
            }

            // The answer already says the lowered limit: the provider's count is what it is now held to.
            remaining = Math.Max(0, _tokensPerWindow - used);
            limit = _tokensPerWindow;
            // OpenAI: the time until the window is back to its whole limit, when the newest call leaves it.
            reset = inWindow.Count == 0 ? TimeSpan.Zero : inWindow.Max(c => c.At) + Window - now;
            requestsInWindow = inWindow.Count;
        }

        if (RequestsPerWindow is { } requests)
        {
            context.Response.Headers["x-ratelimit-limit-requests"] = requests.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["x-ratelimit-remaining-requests"] = Math.Max(0, requests - requestsInWindow).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["x-ratelimit-reset-requests"] = OpenAiDuration(reset);
        }

        context.Response.Headers["x-ratelimit-limit-tokens"] = limit.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["x-ratelimit-remaining-tokens"] = remaining.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["x-ratelimit-reset-tokens"] = OpenAiDuration(reset);
        if (retryAfter is { } wait)
        {
            context.Response.Headers["retry-after-ms"] = Math.Ceiling(wait.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            await WriteJsonAsync(context, ErrorBody(429, $"Rate limit reached for {model}: {limit} tokens per {Window.TotalSeconds} s."), 429);
            return;
        }

        await WriteJsonAsync(context, new JsonObject
        {
            ["id"] = "chatcmpl-limited",
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "ok" },
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = CompletionTokens, ["total_tokens"] = tokens },
        }.ToJsonString());
    }
}

/// <summary>How a fake provider is out: <see cref="None"/> (it answers), 500s to every call, or no answer at all.</summary>
public enum FakeOutage
{
    None,
    ServerErrors,
    Silent,
}
