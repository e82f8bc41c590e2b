using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// Fake Anthropic Messages API (<c>POST /v1/messages</c>), JSON and SSE streaming events
/// (message_start … message_stop). Use <see cref="FakeHttpServer.BaseUrl"/> as the provider's base URL.
/// </summary>
public sealed class FakeAnthropicServer : FakeHttpServer
{
    private FakeAnthropicServer(FakeAnthropicOptions options) => Options = options;

    public FakeAnthropicOptions Options { get; set; }

    public static async Task<FakeAnthropicServer> StartAsync(FakeAnthropicOptions? options = null)
    {
        var server = new FakeAnthropicServer(options ?? new FakeAnthropicOptions());
        await server.StartServerAsync();
        return server;
    }

    protected override string ErrorBody(int statusCode, string message) => new JsonObject
    {
        ["type"] = "error",
        ["error"] = new JsonObject { ["type"] = statusCode == 429 ? "rate_limit_error" : "api_error", ["message"] = message },
    }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (request.Path != "/v1/messages" || request.Json is not JsonObject body)
        {
            await WriteJsonAsync(context, ErrorBody(404, $"No route {request.Method} {request.Path}"), 404);
            return;
        }

        var options = Options;
        var model = body["model"]?.GetValue<string>() ?? "unknown";
        if (body["stream"]?.GetValue<bool>() == true)
        {
            await StreamAsync(context, options, model);
            return;
        }

        await WriteJsonAsync(context, new JsonObject
        {
            ["id"] = "msg_fake",
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = options.Text }),
            ["stop_reason"] = "end_turn",
            ["stop_sequence"] = null,
            ["usage"] = new JsonObject { ["input_tokens"] = options.InputTokens, ["output_tokens"] = options.OutputTokens },
        }.ToJsonString());
    }

    private static async Task StreamAsync(HttpContext context, FakeAnthropicOptions options, string model)
    {
        context.Response.ContentType = "text/event-stream";
        await WriteEventAsync(context, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = "msg_fake",
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = model,
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = options.InputTokens, ["output_tokens"] = 1 },
            },
        });
        await WriteEventAsync(context, "content_block_start", new JsonObject
        {
            ["type"] = "content_block_start",
            ["index"] = 0,
            ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
        });
        foreach (var chunk in options.Chunks)
        {
            await WriteEventAsync(context, "content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta",
                ["index"] = 0,
                ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = chunk },
            });
        }

        await WriteEventAsync(context, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        await WriteEventAsync(context, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = options.OutputTokens },
        });
        await WriteEventAsync(context, "message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    private static async Task WriteEventAsync(HttpContext context, string name, JsonObject data)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
