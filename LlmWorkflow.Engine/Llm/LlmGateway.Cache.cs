using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmWorkflow.Engine.Costs;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// The response cache of a step with <c>cache_ttl</c>: an exact repeat of a call (model, options, prompt) is answered
/// from the cache, free; a call that reached the provider is stored for the step's ttl. Steps without one never come here.
/// </summary>
public sealed partial class LlmGateway
{
    private static readonly JsonSerializerOptions CacheJson = new(JsonSerializerDefaults.Web);

    private async Task<LlmCallResult> CallCachedAsync(
        IChatClient client, ModelId model, LlmCallRequest request, ChatOptions options, string promptHash, CancellationToken cancellationToken)
    {
        var cacheKey = CacheKey(model, options, promptHash);
        if (await _cache.GetAsync(cacheKey, cancellationToken).ConfigureAwait(false) is { } cachedJson
            && JsonSerializer.Deserialize<CachedLlmResponse>(cachedJson, CacheJson) is { } cached)
        {
            if (request.Stream)
            {
                // Live viewers still see the answer, in one delta.
                request.OnDelta?.Invoke(cached.Text);
            }

            return new LlmCallResult
            {
                Text = cached.Text,
                Provider = cached.Provider,
                Model = cached.Model,
                InputTokens = cached.InputTokens,
                OutputTokens = cached.OutputTokens,
                UsageEstimated = cached.UsageEstimated,
                CostUsd = 0m,
                CostSource = CostSources.Cache,
                CacheHit = true,
            };
        }

        var result = await CallUncachedAsync(client, model, request, options, cancellationToken).ConfigureAwait(false);
        var entry = new CachedLlmResponse(result.Text, result.Provider, result.Model, result.InputTokens, result.OutputTokens, result.UsageEstimated);
        await _cache.SetAsync(cacheKey, JsonSerializer.Serialize(entry, CacheJson), request.CacheTtl!.Value, cancellationToken).ConfigureAwait(false);
        return result;
    }

    private static string CacheKey(ModelId model, ChatOptions options, string promptHash)
    {
        var identity = $"{model}\n{options.Temperature?.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}\n{options.MaxOutputTokens}\n{options.ResponseFormat is ChatResponseFormatJson}\n{promptHash}"
            // A schema is part of what was asked: two schemas never share an answer (a plain JSON call's key is unchanged).
            + ((options.ResponseFormat as ChatResponseFormatJson)?.Schema is { } schema ? "\n" + schema.GetRawText() : "");
        return "llm:response:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)));
    }
}
