using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm.Batches;

/// <summary>
/// Anthropic's Message Batches: <c>POST /v1/messages/batches</c> with one request (the key as custom_id), looked at with
/// <c>GET /v1/messages/batches/{id}</c> until <c>processing_status</c> is <c>ended</c>, its answer the line of
/// <c>results_url</c> with the key. Anthropic's batches carry no metadata and their custom_ids are readable only once
/// they ended, so <see cref="FindAsync"/> cannot find a running batch by key (docs/ADMISSION.md, "Batch").
/// </summary>
internal sealed class AnthropicBatchClient(HttpClient http, ResolvedProvider provider) : BatchHttp(http, provider), IBatchProtocol
{
    /// <summary>The max_tokens Anthropic requires, when the step sets none (as the chat client's default).</summary>
    private const int DefaultMaxTokens = 4096;

    protected override void Authorize(HttpRequestMessage message)
    {
        message.Headers.TryAddWithoutValidation("x-api-key", Provider.ApiKey ?? string.Empty);
        message.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
    }

    public Task<string?> FindAsync(string key, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public async Task<string> CreateAsync(string key, ModelId model, LlmCallRequest request, CancellationToken cancellationToken)
    {
        var batch = await SendJsonAsync(HttpMethod.Post, "v1/messages/batches", new JsonObject
        {
            ["requests"] = new JsonArray(new JsonObject { ["custom_id"] = key, ["params"] = Params(model, request) }),
        }, cancellationToken).ConfigureAwait(false);
        return batch["id"]?.GetValue<string>() ?? throw new InvalidOperationException($"{Provider.Name} created a batch without an id.");
    }

    public async Task<BatchPoll> PollAsync(string batchId, string key, CancellationToken cancellationToken)
    {
        var batch = await SendJsonAsync(HttpMethod.Get, $"v1/messages/batches/{Uri.EscapeDataString(batchId)}", null, cancellationToken).ConfigureAwait(false);
        if (batch["processing_status"]?.GetValue<string>() != "ended")
        {
            return BatchPoll.Running;
        }

        var results = batch["results_url"]?.GetValue<string>() ?? $"v1/messages/batches/{Uri.EscapeDataString(batchId)}/results";
        var line = LineOf(await SendAsync(HttpMethod.Get, results, null, cancellationToken).ConfigureAwait(false), key);
        return line?["result"] is JsonObject result ? Read(result) : new BatchPoll(EndedAs: batch["cancel_initiated_at"] is null ? "expired" : "cancelled");
    }

    private static JsonObject Params(ModelId model, LlmCallRequest request)
    {
        var system = string.Join("\n\n", request.Messages.Where(m => m.Role == ChatRole.System).Select(m => m.Text));
        var body = new JsonObject
        {
            ["model"] = model.Model,
            ["max_tokens"] = request.MaxTokens ?? DefaultMaxTokens,
            ["messages"] = Messages(request.Messages.Where(m => m.Role != ChatRole.System)),
        };
        if (system.Length > 0)
        {
            body["system"] = system;
        }

        if (request.Temperature is { } temperature)
        {
            body["temperature"] = temperature;
        }

        return body;
    }

    /// <summary>A result: succeeded (the message), errored (the request's error), canceled or expired (no answer, not billed).</summary>
    private static BatchPoll Read(JsonObject result)
    {
        switch (result["type"]?.GetValue<string>())
        {
            case "succeeded":
                var message = result["message"];
                var text = string.Concat((message?["content"] as JsonArray ?? []).Where(c => c?["type"]?.GetValue<string>() == "text").Select(c => c!["text"]?.GetValue<string>()));
                var usage = message?["usage"];
                return new BatchPoll(Answer(text, usage?["input_tokens"]?.GetValue<long>(), usage?["output_tokens"]?.GetValue<long>(),
                    usage?["cache_read_input_tokens"]?.GetValue<long>()));
            case "errored":
                var error = result["error"]?["error"] ?? result["error"];
                var status = error?["type"]?.GetValue<string>() switch
                {
                    "invalid_request_error" => HttpStatusCode.BadRequest,
                    "authentication_error" => HttpStatusCode.Unauthorized,
                    "not_found_error" => HttpStatusCode.NotFound,
                    "rate_limit_error" => HttpStatusCode.TooManyRequests,
                    _ => HttpStatusCode.InternalServerError,
                };
                return new BatchPoll(Error: new ProviderHttpException(status, error?["message"]?.GetValue<string>() ?? "The batch request failed.", null, error?["type"]?.GetValue<string>()));
            case "canceled":
                return new BatchPoll(EndedAs: "cancelled");
            default:
                return new BatchPoll(EndedAs: "expired");
        }
    }
}
