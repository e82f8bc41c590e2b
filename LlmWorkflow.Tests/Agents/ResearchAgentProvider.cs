using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// A fake OpenAI-compatible provider (<c>POST /v1/chat/completions</c>, Chat Completions wire format) for an agent
/// whose <c>workflow</c> tool runs a child with two LLM steps. It answers from the request, so any worker gets the same
/// answer: a request with tools is an agent turn (turn 0 calls <c>research</c>, turn 1 answers with the draft the tool
/// returned); a request without tools is a child step, told apart by its prompt's <c>OUTLINE:</c> or <c>DRAFT:</c>
/// marker. Each call is counted as asked (<see cref="Asked"/>) and as paid (<see cref="Paid"/>: its answer was
/// written out in full); <see cref="Hold"/> keeps one call's first answer back, then drops it unpaid.
/// </summary>
public sealed class ResearchAgentProvider : FakeHttpServer
{
    public const string AgentTurn0 = "agent turn 0";
    public const string AgentTurn1 = "agent turn 1";
    public const string Outline = "outline";
    public const string Draft = "draft";

    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _paid = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HeldCall> _holds = new(StringComparer.Ordinal);

    public Uri ApiUrl => new(BaseUrl, "v1/");

    /// <summary>The tokens each call reports, as a provider bills them: (prompt, completion).</summary>
    public static IReadOnlyDictionary<string, (int Prompt, int Completion)> Usage { get; } = new Dictionary<string, (int, int)>
    {
        [AgentTurn0] = (100, 20),
        [Outline] = (40, 10),
        [Draft] = (60, 15),
        [AgentTurn1] = (150, 30),
    };

    public static async Task<ResearchAgentProvider> StartAsync()
    {
        var server = new ResearchAgentProvider();
        await server.StartServerAsync();
        return server;
    }

    public static string OutlineOf(string topic) => $"Outline of {topic}: why, how, what next.";

    public static string DraftFrom(string outline) => $"Draft from ({outline})";

    public static string Report(string draft) => $"Report: {draft}";

    /// <summary>How many requests asked for this call.</summary>
    public int Asked(string call) => _requests.GetValueOrDefault(call);

    /// <summary>How many answers to this call were delivered (what a provider bills).</summary>
    public int Paid(string call) => _paid.GetValueOrDefault(call);

    /// <summary>The first request for this call waits until <see cref="HeldCall.Release"/> (or its client leaves), then is dropped unanswered.</summary>
    public HeldCall Hold(string call) => _holds.GetOrAdd(call, _ => new HeldCall());

    protected override string ErrorBody(int statusCode, string message) =>
        new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = "fake_error", ["code"] = statusCode } }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (!request.Path.EndsWith("/chat/completions", StringComparison.Ordinal) || request.Json?["messages"] is not JsonArray messages
            || Classify(request.Json, messages) is not { } call)
        {
            await WriteJsonAsync(context, ErrorBody(400, "This fake answers the research agent's turns and its child's two steps only."), 400);
            return;
        }

        _requests.AddOrUpdate(call, 1, (_, n) => n + 1);
        if (_holds.TryGetValue(call, out var held) && held.TryTake())
        {
            await held.WaitAsync(context.RequestAborted);
            context.Abort();
            return;
        }

        var (prompt, completion) = Usage[call];
        var answer = call switch
        {
            AgentTurn0 => ToolCallWire.OpenAiToolCall("call_research", "research", new JsonObject { ["topic"] = Between(UserText(messages), "Research ", ".") }, prompt, completion),
            Outline => ToolCallWire.OpenAiText(OutlineOf(Between(UserText(messages), "OUTLINE: outline ", ".")), prompt, completion),
            Draft => ToolCallWire.OpenAiText(DraftFrom(Between(UserText(messages), "DRAFT: write from ", " END")), prompt, completion),
            _ => ToolCallWire.OpenAiText(Report(ToolDraft(messages)), prompt, completion),
        };
        await WriteJsonAsync(context, answer.Body);
        await context.Response.CompleteAsync();
        _paid.AddOrUpdate(call, 1, (_, n) => n + 1);
    }

    private static string? Classify(JsonNode body, JsonArray messages)
    {
        if (body["tools"] is JsonArray { Count: > 0 })
        {
            return messages.Count(m => (string?)m?["role"] == "assistant") == 0 ? AgentTurn0 : AgentTurn1;
        }

        var text = UserText(messages);
        return text.Contains("OUTLINE:", StringComparison.Ordinal) ? Outline : text.Contains("DRAFT:", StringComparison.Ordinal) ? Draft : null;
    }

    private static string UserText(JsonArray messages) =>
        string.Concat(messages.Where(m => (string?)m?["role"] == "user").Select(m => ContentText(m!["content"])));

    /// <summary>The draft the workflow tool returned: its result is <c>{"workflow", "status", "output": {"draft"}}</c>.</summary>
    private static string ToolDraft(JsonArray messages) => messages
        .Where(m => (string?)m?["role"] == "tool")
        .Select(m => (string?)JsonNode.Parse(ContentText(m!["content"]))?["output"]?["draft"])
        .FirstOrDefault(t => t is not null) ?? "(missing)";

    private static string Between(string text, string start, string end)
    {
        var from = text.IndexOf(start, StringComparison.Ordinal);
        if (from < 0)
        {
            return "(missing)";
        }

        from += start.Length;
        var to = text.IndexOf(end, from, StringComparison.Ordinal);
        return to < 0 ? text[from..] : text[from..to];
    }

    /// <summary>A message's content: a string, or an array of text parts.</summary>
    private static string ContentText(JsonNode? content) => content is JsonArray parts
        ? string.Concat(parts.Select(p => (string?)p?["text"]))
        : (string?)content ?? "null";
}
