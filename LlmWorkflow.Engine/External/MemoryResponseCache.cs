using Microsoft.Extensions.Caching.Memory;

namespace LlmWorkflow.Engine.External;

/// <summary>Process-local level of the response cache (also the whole cache when Redis is not configured).</summary>
public sealed class MemoryResponseCache(IMemoryCache memory) : IResponseCache
{
    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(memory.TryGetValue(key, out string? value) ? value : null);

    public ValueTask SetAsync(string key, string value, TimeSpan ttl, CancellationToken cancellationToken)
    {
        memory.Set(key, value, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ttl, Size = value.Length });
        return ValueTask.CompletedTask;
    }
}
