using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// A fake OpenAI-compatible provider (<c>POST /v1/chat/completions</c>, Chat Completions wire format) that plays a
/// support agent from the conversation it is sent, so any worker resuming a loop gets the answer the first would
/// have: turn 0 calls <c>lookup_order</c>, turn 1 calls <c>refund</c>, turn 2 answers with the order's status and the
/// refund id it read in the tool results. The order is the <c>Order …:</c> of the prompt, the turn the number of
/// assistant messages in it. A turn is "paid" when its answer was written out in full; <see cref="Hold"/> keeps one
/// turn's answer back until the test releases it, and then drops the connection unpaid (its worker was killed).
/// </summary>
public sealed partial class ScriptedAgentProvider : FakeHttpServer
{
    private readonly ConcurrentDictionary<(string Order, int Turn), int> _requests = new();
    private readonly ConcurrentDictionary<(string Order, int Turn), int> _paid = new();
    private readonly ConcurrentDictionary<(string Order, int Turn), HeldCall> _holds = new();

    public Uri ApiUrl => new(BaseUrl, "v1/");

    public static async Task<ScriptedAgentProvider> StartAsync()
    {
        var server = new ScriptedAgentProvider();
        await server.StartServerAsync();
        return server;
    }

    /// <summary>How many requests asked for this turn of this order's loop.</summary>
    public int RequestsFor(string order, int turn) => _requests.GetValueOrDefault((order, turn));

    /// <summary>How many answers to this turn were delivered (what a provider bills).</summary>
    public int Paid(string order, int turn) => _paid.GetValueOrDefault((order, turn));

    /// <summary>Every turn answered, with how often it was paid.</summary>
    public IReadOnlyDictionary<(string Order, int Turn), int> PaidTurns => _paid;

    /// <summary>The first request for this turn waits until <see cref="HeldCall.Release"/>, then is dropped unanswered.</summary>
    public HeldCall Hold(string order, int turn) => _holds.GetOrAdd((order, turn), _ => new HeldCall());

    /// <summary>The text turn 2 answers with, given what the tools returned.</summary>
    public static string FinalAnswer(string order, string status, string refundId) => $"Order {order} is {status}; refund {refundId} issued.";

    protected override string ErrorBody(int statusCode, string message) =>
        new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = "fake_error", ["code"] = statusCode } }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (!request.Path.EndsWith("/chat/completions", StringComparison.Ordinal) || request.Json?["messages"] is not JsonArray messages
            || request.Json["stream"]?.GetValue<bool>() == true || OrderOf(request.Body) is not { } order)
        {
            await WriteJsonAsync(context, ErrorBody(400, "This fake answers non-streamed agent turns about an order only."), 400);
            return;
        }

        var turn = messages.Count(m => (string?)m?["role"] == "assistant");
        _requests.AddOrUpdate((order, turn), 1, (_, n) => n + 1);
        if (_holds.TryGetValue((order, turn), out var held) && held.TryTake())
        {
            await held.WaitAsync(context.RequestAborted);
            context.Abort();
            return;
        }

        var answer = turn switch
        {
            0 => ToolCallWire.OpenAiToolCall($"call_lookup_{turn}", "lookup_order", new JsonObject { ["order_id"] = order }),
            1 => ToolCallWire.OpenAiToolCall($"call_refund_{turn}", "refund", new JsonObject { ["order_id"] = order, ["amount_usd"] = 12.5 }),
            _ => ToolCallWire.OpenAiText(FinalAnswer(order, ToolBodyText(messages, "status"), ToolBodyText(messages, "refund_id"))),
        };
        await WriteJsonAsync(context, answer.Body);
        await context.Response.CompleteAsync();
        _paid.AddOrUpdate((order, turn), 1, (_, n) => n + 1);
    }

    private static string? OrderOf(string body) => OrderPattern().Match(body) is { Success: true } match ? match.Groups[1].Value : null;

    /// <summary>A string field of the body an http tool returned (its result is <c>{"status": code, "body": …}</c>).</summary>
    private static string ToolBodyText(JsonArray messages, string field) => messages
        .Where(m => (string?)m?["role"] == "tool")
        .Select(m => JsonNode.Parse(ContentText(m!["content"]))?["body"]?[field])
        .OfType<JsonValue>()
        .Select(v => v.TryGetValue<string>(out var text) ? text : null)
        .FirstOrDefault(t => t is not null) ?? "(missing)";

    /// <summary>A message's content: a string, or an array of text parts.</summary>
    private static string ContentText(JsonNode? content) => content is JsonArray parts
        ? string.Concat(parts.Select(p => (string?)p?["text"]))
        : (string?)content ?? "null";

    [GeneratedRegex(@"Order ([A-Za-z0-9-]+):")]
    private static partial Regex OrderPattern();
}

/// <summary>A call a fake keeps waiting: <see cref="Arrived"/> completes when it comes in, <see cref="Release"/> lets it go on.</summary>
public sealed class HeldCall
{
    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _taken;

    public Task Arrived => _arrived.Task;

    public void Release() => _released.TrySetResult();

    /// <summary>True for the first call only: later ones (a new worker's retry) are not held.</summary>
    public bool TryTake()
    {
        if (Interlocked.Exchange(ref _taken, 1) != 0)
        {
            return false;
        }

        _arrived.TrySetResult();
        return true;
    }

    /// <summary>Waits for the release; a connection the client closed first ends the wait too.</summary>
    public async Task WaitAsync(CancellationToken aborted)
    {
        try
        {
            await _released.Task.WaitAsync(aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The killed worker's socket closed: the caller goes on as after a release.
        }
    }
}
