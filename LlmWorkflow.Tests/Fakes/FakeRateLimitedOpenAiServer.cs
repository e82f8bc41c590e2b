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
/// <c>x-ratelimit-remaining-tokens</c>, and is not counted. Answers send the remaining tokens too.
/// </summary>
public sealed class FakeRateLimitedOpenAiServer : FakeHttpServer
{
    private readonly Lock _gate = new();
    private readonly List<(DateTimeOffset At, int Tokens, string Body)> _accepted = [];
    private int _rateLimited;

    private FakeRateLimitedOpenAiServer(int tokensPerWindow, TimeSpan window)
    {
        TokensPerWindow = tokensPerWindow;
        Window = window;
    }

    public int TokensPerWindow { get; }

    public TimeSpan Window { get; }

    public int CompletionTokens { get; init; } = 200;

    public Uri ApiUrl => new(BaseUrl, "v1/");

    /// <summary>429 answers sent.</summary>
    public int RateLimited => Volatile.Read(ref _rateLimited);

    /// <summary>Answered calls: when, how many tokens, the request body.</summary>
    public IReadOnlyList<(DateTimeOffset At, int Tokens, string Body)> Accepted
    {
        get
        {
            lock (_gate)
            {
                return [.. _accepted];
            }
        }
    }

    public static async Task<FakeRateLimitedOpenAiServer> StartAsync(int tokensPerWindow, TimeSpan window, int completionTokens = 200)
    {
        var server = new FakeRateLimitedOpenAiServer(tokensPerWindow, window) { CompletionTokens = completionTokens };
        await server.StartServerAsync();
        return server;
    }

    /// <summary>The most tokens answered within any one window (each window starting at an answered call).</summary>
    public int PeakWindowTokens()
    {
        var calls = Accepted;
        return calls.Count == 0 ? 0 : calls.Max(start => calls.Where(c => c.At >= start.At && c.At < start.At + Window).Sum(c => c.Tokens));
    }

    /// <summary>How many answered calls have <paramref name="marker"/> in their prompt.</summary>
    public int AnsweredContaining(string marker) => Accepted.Count(c => c.Body.Contains(marker, StringComparison.Ordinal));

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
        var body = (JsonObject)request.Json!;
        var model = body["model"]?.GetValue<string>() ?? "gpt-4o-mini";
        var messages = body["messages"]!.AsArray().Select(m => new ChatMessage(ChatRole.User, Text(m!["content"]))).ToList();
        var promptTokens = PromptTokenCounter.Count(new ModelId("openai", model), messages);
        var tokens = promptTokens + CompletionTokens;
        var now = DateTimeOffset.UtcNow;
        int remaining;
        TimeSpan? retryAfter = null;
        lock (_gate)
        {
            var inWindow = _accepted.Where(c => c.At > now - Window).ToList();
            var used = inWindow.Sum(c => c.Tokens);
            if (used + tokens > TokensPerWindow)
            {
                _rateLimited++;
                // Until enough of the oldest calls have left the window.
                var freed = 0;
                foreach (var call in inWindow)
                {
                    freed += call.Tokens;
                    if (used - freed + tokens <= TokensPerWindow)
                    {
                        retryAfter = call.At + Window - now;
                        break;
                    }
                }

                retryAfter ??= Window;
            }
            else
            {
                _accepted.Add((now, tokens, request.Body));
                used += tokens;
            }

            remaining = Math.Max(0, TokensPerWindow - used);
        }

        context.Response.Headers["x-ratelimit-limit-tokens"] = TokensPerWindow.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["x-ratelimit-remaining-tokens"] = remaining.ToString(CultureInfo.InvariantCulture);
        if (retryAfter is { } wait)
        {
            context.Response.Headers["retry-after-ms"] = Math.Ceiling(wait.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            await WriteJsonAsync(context, ErrorBody(429, $"Rate limit reached for {model}: {TokensPerWindow} tokens per {Window.TotalSeconds} s."), 429);
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
