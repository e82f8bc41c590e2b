using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// Fake Anthropic Messages API (<c>POST /v1/messages</c>), JSON and SSE streaming events
/// (message_start … message_stop), and Message Batches (<c>/v1/messages/batches</c>, its id and results): a batch runs
/// until the test ends it (<see cref="Batches"/>). Use <see cref="FakeHttpServer.BaseUrl"/> as the provider's base URL.
/// </summary>
public sealed class FakeAnthropicServer : FakeHttpServer
{
    private FakeAnthropicServer(FakeAnthropicOptions options) => Options = options;

    public FakeAnthropicOptions Options { get; set; }

    /// <summary>The message batches created: end them with <see cref="FakeBatchQueue.Finish"/> or <see cref="FakeBatchQueue.Expire"/>.</summary>
    public FakeBatchQueue Batches { get; } = new("msgbatch_fake_");

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
        if (request.Path.StartsWith("/v1/messages/batches", StringComparison.Ordinal))
        {
            var (answer, status) = BatchApiAnswer(request);
            context.Response.StatusCode = status;
            context.Response.ContentType = answer.StartsWith('{') ? "application/json" : "application/binary";
            await context.Response.WriteAsync(answer, context.RequestAborted);
            return;
        }

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

        await WriteJsonAsync(context, Message(options, model).ToJsonString());
    }

    private static JsonObject Message(FakeAnthropicOptions options, string model) => new()
    {
        ["id"] = "msg_fake",
        ["type"] = "message",
        ["role"] = "assistant",
        ["model"] = model,
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = options.Text }),
        ["stop_reason"] = "end_turn",
        ["stop_sequence"] = null,
        ["usage"] = new JsonObject { ["input_tokens"] = options.InputTokens, ["output_tokens"] = options.OutputTokens },
    };

    private (string Body, int Status) BatchApiAnswer(RecordedRequest request)
    {
        var parts = request.Path["/v1/messages/batches".Length..].Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        return (request.Method, parts) switch
        {
            ("POST", []) => (BatchObject(Batches.Add(
                [.. request.Json!["requests"]!.AsArray().Select(r => (r!["custom_id"]!.GetValue<string>(), r["params"]!.AsObject()))], null)).ToJsonString(), 200),
            ("GET", [var id]) when Batches.Find(id) is { } batch => (BatchObject(batch).ToJsonString(), 200),
            ("GET", [var id, "results"]) when Batches.Find(id) is { Status: not FakeBatchStatus.Running } batch => (Results(batch), 200),
            _ => (ErrorBody(404, $"No route {request.Method} {request.Path}"), 404),
        };
    }

    private JsonObject BatchObject(FakeBatch batch) => new()
    {
        ["id"] = batch.Id,
        ["type"] = "message_batch",
        ["processing_status"] = batch.Status == FakeBatchStatus.Running ? "in_progress" : "ended",
        ["cancel_initiated_at"] = null,
        ["results_url"] = batch.Status == FakeBatchStatus.Running ? null : new Uri(BaseUrl, $"v1/messages/batches/{batch.Id}/results").ToString(),
    };

    /// <summary>The results JSONL: each request succeeded (answered as a direct call would be) or expired.</summary>
    private string Results(FakeBatch batch) => string.Join('\n', batch.Requests.Select(r => new JsonObject
    {
        ["custom_id"] = r.CustomId,
        ["result"] = batch.Status == FakeBatchStatus.Completed
            ? new JsonObject { ["type"] = "succeeded", ["message"] = Message(Options, r.Body["model"]!.GetValue<string>()) }
            : new JsonObject { ["type"] = "expired" },
    }.ToJsonString()));

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
