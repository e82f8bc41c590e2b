using LlmWorkflow.Engine.External;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.External;

/// <summary>
/// Two cache levels: this process's memory, then Redis shared by all workers. A Redis hit is copied into memory
/// for at most its remaining Redis lifetime. Redis trouble degrades to a miss (and a warning): a cache never fails
/// the call it serves.
/// </summary>
internal sealed partial class TieredResponseCache(
    IMemoryCache memory, IConnectionMultiplexer redis, TimeSpan memoryMaxTtl, ILogger<TieredResponseCache> logger, string keyPrefix = "llmwf:cache:") : IResponseCache
{
    public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (memory.TryGetValue(key, out string? local))
        {
            return local;
        }

        try
        {
            var found = await redis.GetDatabase().StringGetWithExpiryAsync(keyPrefix + key).ConfigureAwait(false);
            if ((string?)found.Value is not { } shared)
            {
                return null;
            }

            if (found.Expiry is { Ticks: > 0 } remaining)
            {
                Remember(key, shared, remaining);
            }

            return shared;
        }
        catch (Exception failure) when (failure is RedisException or TimeoutException)
        {
            LogRedisUnavailable(failure.Message);
            return null;
        }
    }

    public async ValueTask SetAsync(string key, string value, TimeSpan ttl, CancellationToken cancellationToken)
    {
        Remember(key, value, ttl);
        try
        {
            await redis.GetDatabase().StringSetAsync(keyPrefix + key, value, ttl).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is RedisException or TimeoutException)
        {
            LogRedisUnavailable(failure.Message);
        }
    }

    private void Remember(string key, string value, TimeSpan ttl) =>
        memory.Set(key, value, new MemoryCacheEntryOptions
        {
            AbsoluteExpirationRelativeToNow = ttl < memoryMaxTtl ? ttl : memoryMaxTtl,
            Size = value.Length,
        });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis cache level unavailable, serving without it: {Reason}")]
    private partial void LogRedisUnavailable(string reason);
}
