using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Llm.Batches;

/// <summary>
/// OpenAI's Batch API: the call is a one-line JSONL file (<c>POST /files</c>, purpose <c>batch</c>), a batch over it
/// (<c>POST /batches</c>, 24h window, the key in <c>metadata</c>), looked at with <c>GET /batches/{id}</c>, its answer
/// the output (or error) file's line with the key as custom_id. <see cref="FindAsync"/> reads the newest batches'
/// metadata, so a step that crashed after creating its batch finds it instead of creating another.
/// </summary>
internal sealed class OpenAiBatchClient(HttpClient http, ResolvedProvider provider) : BatchHttp(http, provider), IBatchProtocol
{
    /// <summary>The metadata member that carries the key.</summary>
    public const string KeyMetadata = "llmworkflow_key";

    private const string Endpoint = "/v1/chat/completions";

    protected override void Authorize(HttpRequestMessage message) =>
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Provider.ApiKey ?? "no-key");

    public async Task<string?> FindAsync(string key, CancellationToken cancellationToken)
    {
        JsonObject page;
        try
        {
            page = await SendJsonAsync(HttpMethod.Get, "batches?limit=100", null, cancellationToken).ConfigureAwait(false);
        }
        catch (ProviderHttpException unlisted) when (unlisted.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
        {
            return null; // a compatible gateway that serves batches but does not list them: it cannot say
        }

        return (page["data"] as JsonArray ?? [])
            .FirstOrDefault(batch => batch?["metadata"]?[KeyMetadata]?.GetValue<string>() == key)?["id"]?.GetValue<string>();
    }

    public async Task<string> CreateAsync(string key, ModelId model, LlmCallRequest request, CancellationToken cancellationToken)
    {
        var line = new JsonObject { ["custom_id"] = key, ["method"] = "POST", ["url"] = Endpoint, ["body"] = Body(model, request) };
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(line.ToJsonString() + "\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
        using var form = new MultipartFormDataContent { { new StringContent("batch"), "purpose" }, { file, "file", $"{key}.jsonl" } };
        var uploaded = await SendForObjectAsync(HttpMethod.Post, "files", form, cancellationToken).ConfigureAwait(false);
        var batch = await SendJsonAsync(HttpMethod.Post, "batches", new JsonObject
        {
            ["input_file_id"] = uploaded["id"]?.GetValue<string>(),
            ["endpoint"] = Endpoint,
            ["completion_window"] = "24h",
            ["metadata"] = new JsonObject { [KeyMetadata] = key },
        }, cancellationToken).ConfigureAwait(false);
        return batch["id"]?.GetValue<string>() ?? throw new InvalidOperationException($"{Provider.Name} created a batch without an id.");
    }

    public async Task<BatchPoll> PollAsync(string batchId, string key, CancellationToken cancellationToken)
    {
        var batch = await SendJsonAsync(HttpMethod.Get, $"batches/{Uri.EscapeDataString(batchId)}", null, cancellationToken).ConfigureAwait(false);
        var status = batch["status"]?.GetValue<string>();
        if (status is not ("completed" or "failed" or "expired" or "cancelled"))
        {
            return BatchPoll.Running;
        }

        // An expired or cancelled batch may still hold answers for requests it finished: the output file says.
        foreach (var fileId in new[] { batch["output_file_id"], batch["error_file_id"] }.Select(f => f?.GetValue<string>()).OfType<string>())
        {
            var content = await SendAsync(HttpMethod.Get, $"files/{Uri.EscapeDataString(fileId)}/content", null, cancellationToken).ConfigureAwait(false);
            if (LineOf(content, key) is { } line)
            {
                return Read(line);
            }
        }

        return new BatchPoll(EndedAs: status == "completed" ? "failed" : status);
    }

    private JsonObject Body(ModelId model, LlmCallRequest request)
    {
        var body = new JsonObject { ["model"] = model.Model, ["messages"] = Messages(request.Messages) };
        if (request.MaxTokens is { } max)
        {
            body[Provider.Kind == ProviderKind.OpenAi ? "max_completion_tokens" : "max_tokens"] = max;
        }

        if (request.Temperature is { } temperature)
        {
            body["temperature"] = temperature;
        }

        if (request.JsonResponse)
        {
            body["response_format"] = new JsonObject { ["type"] = "json_object" };
        }

        return body;
    }

    /// <summary>An output line: the chat completion (status 200), or the request's error as the provider gave it.</summary>
    private static BatchPoll Read(JsonObject line)
    {
        var status = line["response"]?["status_code"]?.GetValue<int>() ?? 0;
        var body = line["response"]?["body"];
        if (status == 200 && body?["choices"]?[0]?["message"] is { } message)
        {
            var usage = body["usage"];
            return new BatchPoll(Answer(message["content"]?.GetValue<string>() ?? string.Empty,
                usage?["prompt_tokens"]?.GetValue<long>(), usage?["completion_tokens"]?.GetValue<long>(),
                usage?["prompt_tokens_details"]?["cached_tokens"]?.GetValue<long>()));
        }

        var error = body?["error"] ?? line["error"];
        return new BatchPoll(Error: new ProviderHttpException(status == 0 ? HttpStatusCode.BadRequest : (HttpStatusCode)status,
            error?["message"]?.GetValue<string>() ?? "The batch request failed.", null, error?["code"]?.ToString()));
    }
}
