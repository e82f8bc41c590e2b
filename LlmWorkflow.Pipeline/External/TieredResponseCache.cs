using LlmWorkflow.Engine.External;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Pipeline.External;

/// <summary>
/// Two cache levels: this process's memory, then Redis shared by all workers. A Redis hit is copied into memory
/// for at most its remaining Redis lifetime. Redis trouble degrades to a miss (and a warning): a cache never fails
/// the call it serves.
/// </summary>
internal sealed partial class TieredResponseCache(
    IMemoryCache memory, IRedisClient redis, TimeSpan memoryMaxTtl, ILogger<TieredResponseCache> logger, string keyPrefix = "llmwf:cache:") : IResponseCache
{
    public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (memory.TryGetValue(key, out string? local))
        {
            return local;
        }

        try
        {
            var replies = await redis.PipelineAsync(
                [new RedisCommand("GET", [keyPrefix + key]), new RedisCommand("PTTL", [keyPrefix + key])], cancellationToken).ConfigureAwait(false);
            if (replies[0].AsString() is not { } shared)
            {
                return null;
            }

            var remaining = replies[1].IsError ? 0 : replies[1].AsInt64();
            if (remaining > 0)
            {
                Remember(key, shared, TimeSpan.FromMilliseconds(remaining));
            }

            return shared;
        }
        catch (RedisException failure)
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
            await redis.StringSetAsync(keyPrefix + key, value, ttl, ct: cancellationToken).ConfigureAwait(false);
        }
        catch (RedisException failure)
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
