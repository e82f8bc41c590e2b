using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm.Batches;

/// <summary>
/// The Batch APIs' HTTP calls, on the providers' own client (a non-success answer leaves it as
/// <see cref="ProviderHttpException"/>, classified by the gateway like a chat call's), with the provider's base URL,
/// key and extra headers. Hand-written: the gateway's chat calls go through Microsoft.Extensions.AI, which has no batch
/// API, and the two batch protocols are a handful of JSON requests.
/// </summary>
internal abstract class BatchHttp(HttpClient http, ResolvedProvider provider)
{
    protected ResolvedProvider Provider { get; } = provider;

    /// <summary>A path under the provider's base URL (which ends with a slash), or an absolute URL the provider gave.</summary>
    protected Uri Url(string pathOrUrl) =>
        Uri.TryCreate(pathOrUrl, UriKind.Absolute, out var absolute) && absolute.Scheme.StartsWith("http", StringComparison.Ordinal)
            ? absolute
            : new Uri(Provider.BaseUrl!, pathOrUrl);

    protected abstract void Authorize(HttpRequestMessage message);

    protected async Task<string> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(method, Url(path)) { Content = content };
        Authorize(message);
        foreach (var (name, value) in Provider.Options.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    protected Task<JsonObject> SendJsonAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken) =>
        SendForObjectAsync(method, path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json")), cancellationToken);

    protected async Task<JsonObject> SendForObjectAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken) =>
        JsonNode.Parse(await SendAsync(method, path, content, cancellationToken).ConfigureAwait(false)) as JsonObject
        ?? throw new InvalidOperationException($"{Provider.Name} answered {path} with something other than a JSON object.");

    /// <summary>The JSONL line whose custom_id is <paramref name="key"/>, or null.</summary>
    protected static JsonObject? LineOf(string jsonl, string key) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => JsonNode.Parse(line) as JsonObject)
            .FirstOrDefault(line => line?["custom_id"]?.GetValue<string>() == key);

    /// <summary>The call's messages as role/content pairs (text only: llm steps send text).</summary>
    protected static JsonArray Messages(IEnumerable<ChatMessage> messages) =>
        [.. messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role.Value, ["content"] = m.Text })];

    protected static ChatResponse Answer(string text, long? input, long? output, long? cachedInput) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, CachedInputTokenCount = cachedInput },
        };
}
