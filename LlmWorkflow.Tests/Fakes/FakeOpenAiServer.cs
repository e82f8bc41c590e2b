using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// Fake OpenAI-compatible chat completions (<c>POST {prefix}/chat/completions</c>), JSON and SSE streaming, with
/// OpenRouter's <c>usage.cost</c> when asked for. Use <see cref="ApiUrl"/> as the provider's base URL. Answers carry
/// <c>service_tier</c> as OpenAI's do (<c>flex</c> for a flex request, else <c>default</c>), and flex requests can be
/// refused with flex's "429 resource unavailable" (<see cref="RefuseFlex"/>). The Batch API too: <c>POST /files</c>
/// (a JSONL upload), <c>POST /batches</c>, <c>GET /batches</c>, <c>GET /batches/{id}</c> and the output file's content;
/// a batch runs until the test ends it (<see cref="Batches"/>).
/// </summary>
public sealed class FakeOpenAiServer : FakeHttpServer
{
    private FakeOpenAiServer(FakeOpenAiOptions options) => Options = options;

    public FakeOpenAiOptions Options { get; set; }

    private int _flexRefusals;

    private readonly ConcurrentDictionary<string, string> _files = new();

    /// <summary>The batches created: end them with <see cref="FakeBatchQueue.Finish"/> or <see cref="FakeBatchQueue.Expire"/>.</summary>
    public FakeBatchQueue Batches { get; } = new("batch_fake_");

    /// <summary>The next <paramref name="times"/> flex requests are refused: 429, code <c>resource_unavailable</c>.</summary>
    public void RefuseFlex(int times) => Interlocked.Add(ref _flexRefusals, times);

    /// <summary>The <c>service_tier</c> a recorded request asked for, or null when it named none.</summary>
    public static string? ServiceTierOf(RecordedRequest request) => request.Json?["service_tier"]?.GetValue<string>();

    /// <summary>The API root clients are configured with, e.g. <c>http://127.0.0.1:5000/v1/</c>.</summary>
    public Uri ApiUrl => new(BaseUrl, Options.ApiPrefix.Trim('/') + "/");

    public static async Task<FakeOpenAiServer> StartAsync(FakeOpenAiOptions? options = null)
    {
        var server = new FakeOpenAiServer(options ?? new FakeOpenAiOptions());
        await server.StartServerAsync(server.Options.Certificate);
        return server;
    }

    protected override string ErrorBody(int statusCode, string message) => new JsonObject
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = "fake_error", ["code"] = statusCode },
    }.ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (BatchApiAnswer(request) is { } batchAnswer)
        {
            await WriteJsonAsync(context, batchAnswer.Body, batchAnswer.Status);
            return;
        }

        if (!request.Path.EndsWith("/chat/completions", StringComparison.Ordinal) || request.Json is not JsonObject body)
        {
            await WriteJsonAsync(context, ErrorBody(404, $"No route {request.Method} {request.Path}"), 404);
            return;
        }

        var options = Options;
        var model = body["model"]?.GetValue<string>() ?? "unknown";
        var tier = body["service_tier"]?.GetValue<string>() == "flex" ? "flex" : "default";
        if (tier == "flex" && TakeFlexRefusal())
        {
            await WriteJsonAsync(context, FlexUnavailableBody, 429);
            return;
        }

        if (body["stream"]?.GetValue<bool>() == true)
        {
            await StreamAsync(context, body, options, model, tier);
            return;
        }

        await WriteJsonAsync(context, Completion(body, options, model, tier).ToJsonString());
    }

    private static JsonObject Completion(JsonObject body, FakeOpenAiOptions options, string model, string tier)
    {
        var completion = new JsonObject
        {
            ["id"] = "chatcmpl-fake",
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = model,
            ["service_tier"] = tier,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = options.Text },
                ["finish_reason"] = "stop",
            }),
        };
        if (options.IncludeUsage)
        {
            completion["usage"] = Usage(body, options);
        }

        return completion;
    }

    /// <summary>The Batch API's answer to <paramref name="request"/>, or null when it is not a Batch API route.</summary>
    private (string Body, int Status)? BatchApiAnswer(RecordedRequest request)
    {
        var path = request.Path[(request.Path.IndexOf(Options.ApiPrefix.TrimEnd('/'), StringComparison.Ordinal) + Options.ApiPrefix.TrimEnd('/').Length)..];
        var parts = path.Trim('/').Split('/');
        return (request.Method, parts) switch
        {
            ("POST", ["files"]) => (Upload(request.Body).ToJsonString(), 200),
            ("GET", ["files", var file, "content"]) => _files.TryGetValue(file, out var content) ? (content, 200) : (ErrorBody(404, "No such file"), 404),
            ("POST", ["batches"]) => (CreateBatch(request.Json!.AsObject()), 200),
            ("GET", ["batches"]) => (new JsonObject { ["object"] = "list", ["data"] = new JsonArray([.. Batches.All.Reverse().Select(b => (JsonNode)BatchObject(b))]) }.ToJsonString(), 200),
            ("GET", ["batches", var id]) => Batches.Find(id) is { } batch ? (BatchObject(batch).ToJsonString(), 200) : (ErrorBody(404, "No such batch"), 404),
            _ => null,
        };
    }

    /// <summary>Keeps the JSONL lines of a multipart upload (the fake reads the raw body: every line that is a JSON object).</summary>
    private JsonObject Upload(string multipart)
    {
        var id = $"file-fake-{_files.Count + 1}";
        _files[id] = string.Join('\n', multipart.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("{\"custom_id\"", StringComparison.Ordinal)));
        return new JsonObject { ["id"] = id, ["object"] = "file", ["purpose"] = "batch" };
    }

    private string CreateBatch(JsonObject body)
    {
        var lines = _files[body["input_file_id"]!.GetValue<string>()].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject());
        var batch = Batches.Add([.. lines.Select(l => (l["custom_id"]!.GetValue<string>(), l["body"]!.AsObject()))], body["metadata"]?.DeepClone().AsObject());
        return BatchObject(batch).ToJsonString();
    }

    /// <summary>A batch as OpenAI shows it; a completed one gets its output file (a line per request, answered as a direct call would be).</summary>
    private JsonObject BatchObject(FakeBatch batch)
    {
        var status = batch.Status switch { FakeBatchStatus.Completed => "completed", FakeBatchStatus.Expired => "expired", _ => "in_progress" };
        string? output = null;
        if (batch.Status == FakeBatchStatus.Completed)
        {
            output = $"file-out-{batch.Id}";
            _files.TryAdd(output, string.Join('\n', batch.Requests.Select(r => new JsonObject
            {
                ["id"] = $"batch_req_{r.CustomId}",
                ["custom_id"] = r.CustomId,
                ["response"] = new JsonObject { ["status_code"] = 200, ["request_id"] = "req_fake", ["body"] = Completion(r.Body, Options, r.Body["model"]!.GetValue<string>(), "default") },
                ["error"] = null,
            }.ToJsonString())));
        }

        return new JsonObject
        {
            ["id"] = batch.Id,
            ["object"] = "batch",
            ["endpoint"] = "/v1/chat/completions",
            ["status"] = status,
            ["output_file_id"] = output,
            ["error_file_id"] = null,
            ["metadata"] = batch.Metadata?.DeepClone(),
        };
    }

    // OpenAI's flex guide names the refusal "429 Resource Unavailable"; the code is this fake's, not OpenAI's documented one.
    private static readonly string FlexUnavailableBody = new JsonObject
    {
        ["error"] = new JsonObject { ["message"] = "Resource unavailable: flex capacity is exhausted, try again later.", ["type"] = "server_error", ["code"] = "resource_unavailable" },
    }.ToJsonString();

    private bool TakeFlexRefusal()
    {
        while (Volatile.Read(ref _flexRefusals) is var left and > 0)
        {
            if (Interlocked.CompareExchange(ref _flexRefusals, left - 1, left) == left)
            {
                return true;
            }
        }

        return false;
    }

    private static async Task StreamAsync(HttpContext context, JsonObject body, FakeOpenAiOptions options, string model, string tier)
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var chunk in options.Chunks)
        {
            await WriteEventAsync(context, Chunk(model, new JsonObject { ["content"] = chunk }, null, tier));
            if (options.ChunkDelay > TimeSpan.Zero)
            {
                await Task.Delay(options.ChunkDelay, context.RequestAborted);
            }
        }

        await WriteEventAsync(context, Chunk(model, new JsonObject(), "stop", tier));
        if (options.IncludeUsage && body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            var usageChunk = Chunk(model, null, null, tier);
            usageChunk["usage"] = Usage(body, options);
            await WriteEventAsync(context, usageChunk);
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    private static JsonObject Chunk(string model, JsonObject? delta, string? finishReason, string tier) => new()
    {
        ["id"] = "chatcmpl-fake",
        ["object"] = "chat.completion.chunk",
        ["created"] = 1_700_000_000,
        ["model"] = model,
        ["service_tier"] = tier,
        ["choices"] = delta is null
            ? new JsonArray()
            : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
    };

    private static JsonObject Usage(JsonObject body, FakeOpenAiOptions options)
    {
        var usage = new JsonObject
        {
            ["prompt_tokens"] = options.PromptTokens,
            ["completion_tokens"] = options.CompletionTokens,
            ["total_tokens"] = options.PromptTokens + options.CompletionTokens,
        };
        if (options.ReportedCost is { } cost && body["usage"]?["include"]?.GetValue<bool>() == true)
        {
            usage["cost"] = cost;
        }

        return usage;
    }

    private static async Task WriteEventAsync(HttpContext context, JsonObject data)
    {
        await context.Response.WriteAsync($"data: {data.ToJsonString()}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
