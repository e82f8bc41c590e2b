using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// An OpenAI-compatible chat completions endpoint that plays an agent at once, in the Chat Completions wire format:
/// a conversation whose user message says <c>Bench agent run &lt;id&gt;: &lt;K&gt; turns.</c> gets a <c>tool_calls</c>
/// answer (the tool <c>echo</c>, argument <c>n</c> = the turn) for turns 0 … K−2 and a text answer at turn K−1; the
/// turn is the number of assistant messages in the conversation, so the answer depends only on what it is sent. It
/// times the service from outside: for every turn after the first, from the moment its previous answer was written out
/// to the moment the next request arrived — the service's own time between two model calls (read the answer, store the
/// turn, run and ledger the tool call, send the next prompt), the model excluded.
/// </summary>
internal sealed partial class FakeAgentProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<(string Run, int Turn), long> _answered = new();
    private readonly ConcurrentQueue<double> _gapsMs = new();
    private readonly ConcurrentQueue<double> _modelMs = new();

    private FakeAgentProvider(WebApplication app) => _app = app;

    public Uri ApiUrl { get; private set; } = null!;

    /// <summary>Called with a run's id once its final answer is written out (the scenario submits the next job then).</summary>
    public Action<string>? FinalAnswered { get; set; }

    /// <summary>The message that starts a run of <paramref name="turns"/> model turns.</summary>
    public static string Prompt(string run, int turns) => string.Create(CultureInfo.InvariantCulture, $"Bench agent run {run}: {turns} turns.");

    public static async Task<FakeAgentProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeAgentProvider(app);
        app.MapPost("/v1/chat/completions", server.AnswerAsync);
        await app.StartAsync();
        server.ApiUrl = new Uri(app.Urls.First().TrimEnd('/') + "/v1/");
        return server;
    }

    /// <summary>Points the services' <c>openai</c> provider at this fake.</summary>
    public void ConfigureServices(Dictionary<string, string> settings)
    {
        settings["Llm__Providers__openai__BaseUrl"] = ApiUrl.ToString();
        settings["Llm__Providers__openai__ApiKey"] = "sk-bench";
    }

    /// <summary>The gaps and the fake's own time per answer recorded since the last call, and forgets them.</summary>
    public (double[] GapsMs, double[] ModelMs) TakeTimings()
    {
        var gaps = Drain(_gapsMs);
        var model = Drain(_modelMs);
        _answered.Clear();
        return (gaps, model);
    }

    private static double[] Drain(ConcurrentQueue<double> queue)
    {
        var values = new List<double>();
        while (queue.TryDequeue(out var value))
        {
            values.Add(value);
        }

        return [.. values];
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var arrived = Stopwatch.GetTimestamp();
        var request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var messages = request?["messages"] as JsonArray ?? [];
        var user = messages.FirstOrDefault(m => (string?)m?["role"] == "user");
        var match = RunPattern().Match(ContentText(user?["content"]));
        if (!match.Success)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("""{"error":{"message":"not a bench agent run","type":"invalid_request_error"}}""", context.RequestAborted);
            return;
        }

        var run = match.Groups[1].Value;
        var turns = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        var turn = messages.Count(m => (string?)m?["role"] == "assistant");
        if (turn > 0 && _answered.TryGetValue((run, turn - 1), out var previous))
        {
            _gapsMs.Enqueue(Stopwatch.GetElapsedTime(previous, arrived).TotalMilliseconds);
        }

        var final = turn >= turns - 1;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(final ? Text(run, turn) : ToolCall(turn), context.RequestAborted);
        await context.Response.CompleteAsync();
        var written = Stopwatch.GetTimestamp();
        _answered[(run, turn)] = written;
        _modelMs.Enqueue(Stopwatch.GetElapsedTime(arrived, written).TotalMilliseconds);
        if (final)
        {
            FinalAnswered?.Invoke(run);
        }
    }

    private static string ToolCall(int turn) => string.Create(CultureInfo.InvariantCulture, $$$"""
        {"id":"chatcmpl-bench-{{{turn}}}","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",
         "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_{{{turn}}}","type":"function",
           "function":{"name":"echo","arguments":"{\"n\":{{{turn}}}}"}}]},"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":100,"completion_tokens":12,"total_tokens":112}}
        """);

    private static string Text(string run, int turn) => string.Create(CultureInfo.InvariantCulture, $$$"""
        {"id":"chatcmpl-bench-{{{turn}}}","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Run {{{run}}} done after {{{turn + 1}}} turns."},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":100,"completion_tokens":8,"total_tokens":108}}
        """);

    /// <summary>A message's content: a string, or an array of text parts.</summary>
    private static string ContentText(JsonNode? content) => content is JsonArray parts
        ? string.Concat(parts.Select(p => (string?)p?["text"]))
        : (string?)content ?? "";

    [GeneratedRegex(@"Bench agent run (\S+): (\d+) turns\.")]
    private static partial Regex RunPattern();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
