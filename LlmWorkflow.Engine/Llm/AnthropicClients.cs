using Anthropic;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>The <see cref="IChatClient"/> of an Anthropic model: the Anthropic SDK's, over the registry's HttpClient.</summary>
internal static class AnthropicClients
{
    /// <summary>Anthropic requires max_tokens; used when a step sets none.</summary>
    private const int DefaultMaxTokens = 4096;

    public static IChatClient Create(ResolvedProvider provider, Uri baseUrl, string model, HttpClient http, TimeSpan attemptTimeout)
    {
        var client = new AnthropicClient(new Anthropic.Core.ClientOptions
        {
            ApiKey = provider.ApiKey,
            BaseUrl = baseUrl.ToString().TrimEnd('/'),
            HttpClient = http,
            MaxRetries = 0,
            Timeout = attemptTimeout + TimeSpan.FromSeconds(30),
            // This SDK sends the key as a bearer token; x-api-key is the Messages API's documented header, which
            // Anthropic-compatible gateways and older API versions require.
            ExtraHeaders = provider.ApiKey is null ? [] : new Dictionary<string, string> { ["x-api-key"] = provider.ApiKey },
        });
        return client.AsIChatClient(model, DefaultMaxTokens);
    }
}
