using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// The agent tests' HTTP tool: <c>GET /orders/{id}</c> answers an order, <c>POST /refunds</c> a refund, <c>GET
/// /pages/{n}</c> a page of <see cref="PageChars"/> characters unique to n. It counts every call and records each
/// request's <c>Idempotency-Key</c>.
/// </summary>
public sealed class FakeToolServer : FakeHttpServer
{
    /// <summary>A 2,000-token page by the chars/4 rule.</summary>
    public const int PageChars = 8000;

    private readonly ConcurrentQueue<string?> _keys = new();

    public IReadOnlyList<string?> IdempotencyKeys => [.. _keys];

    /// <summary>Set, every call waits for it before answering (a test holds a call in flight).</summary>
    public TaskCompletionSource? Hold { get; set; }

    public static async Task<FakeToolServer> StartAsync()
    {
        var server = new FakeToolServer();
        await server.StartServerAsync();
        return server;
    }

    protected override string ErrorBody(int statusCode, string message) => new JsonObject { ["error"] = message }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        _keys.Enqueue(request.Header("Idempotency-Key"));
        if (Hold is { } hold)
        {
            await hold.Task.WaitAsync(context.RequestAborted);
        }

        var parts = request.Path.Trim('/').Split('/');
        var answer = (request.Method, parts) switch
        {
            ("GET", ["orders", var id]) => new JsonObject { ["order_id"] = id, ["status"] = "delivered", ["total_usd"] = 50 },
            ("POST", ["refunds"]) => new JsonObject { ["refund_id"] = "rf-1", ["request"] = request.Json?.DeepClone() },
            ("GET", ["pages", var n]) => new JsonObject { ["page"] = n, ["text"] = Page(n) },
            _ => null,
        };
        await WriteJsonAsync(context, answer?.ToJsonString() ?? ErrorBody(404, "no route"), answer is null ? 404 : 200);
    }

    private static string Page(string n)
    {
        var text = new StringBuilder(PageChars + 16);
        for (var i = 0; text.Length < PageChars - 40; i++)
        {
            text.Append("page ").Append(n).Append(" line ").Append(i).Append(": ").Append((n.GetHashCode(StringComparison.Ordinal) ^ i * 7919).ToString("x8", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        return text.ToString();
    }
}

/// <summary>Provider answers in their real wire formats: Chat Completions <c>tool_calls</c> and Messages <c>tool_use</c>.</summary>
internal static class ToolCallWire
{
    public static FakeResponse OpenAiToolCall(string callId, string name, JsonObject arguments, int promptTokens = 100, int completionTokens = 20) =>
        new(200, new JsonObject
        {
            ["id"] = "chatcmpl-" + callId,
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = "gpt-4o-mini",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject
                {
                    ["role"] = "assistant",
                    ["content"] = null,
                    ["tool_calls"] = new JsonArray(new JsonObject
                    {
                        ["id"] = callId,
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments.ToJsonString() },
                    }),
                },
                ["finish_reason"] = "tool_calls",
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens },
        }.ToJsonString());

    public static FakeResponse OpenAiText(string text, int promptTokens = 100, int completionTokens = 20) =>
        new(200, new JsonObject
        {
            ["id"] = "chatcmpl-final",
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = "gpt-4o-mini",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text },
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens },
        }.ToJsonString());

    public static FakeResponse AnthropicToolUse(string id, string name, JsonObject input, string reason) =>
        new(200, new JsonObject
        {
            ["id"] = "msg_" + id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = "claude-sonnet-4-5",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "text", ["text"] = reason },
                new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = name, ["input"] = input }),
            ["stop_reason"] = "tool_use",
            ["stop_sequence"] = null,
            ["usage"] = new JsonObject { ["input_tokens"] = 120, ["output_tokens"] = 30 },
        }.ToJsonString());

    public static FakeResponse AnthropicText(string text) =>
        new(200, new JsonObject
        {
            ["id"] = "msg_final",
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = "claude-sonnet-4-5",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
            ["stop_reason"] = "end_turn",
            ["stop_sequence"] = null,
            ["usage"] = new JsonObject { ["input_tokens"] = 200, ["output_tokens"] = 15 },
        }.ToJsonString());
}
