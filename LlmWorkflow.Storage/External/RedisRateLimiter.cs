using LlmWorkflow.Engine.External;
using System.Globalization;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.External;

/// <summary>
/// Token buckets in Redis shared by every worker: one Lua script refills by elapsed server time and takes a token
/// atomically, or says how many milliseconds until one is free; the caller waits that long and asks again.
/// </summary>
internal sealed class RedisRateLimiter(IConnectionMultiplexer redis, string keyPrefix = "llmwf:ratelimit:") : IServiceRateLimiter
{
    // Server time (TIME) keeps workers with skewed clocks consistent; Redis 7 replicates script effects, so TIME is allowed.
    private const string TakeTokenScript = """
        local capacity = tonumber(ARGV[1])
        local per_ms = tonumber(ARGV[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
        local tokens = tonumber(state[1]) or capacity
        local ts = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - ts) * per_ms)
        local wait = 0
        if tokens >= 1 then
          tokens = tokens - 1
        else
          wait = math.ceil((1 - tokens) / per_ms)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
        redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
        return wait
        """;

    public async ValueTask AcquireAsync(string service, RateLimitOptions limit, CancellationToken cancellationToken)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)(limit.MaxWait.TotalSeconds * TimeProvider.System.TimestampFrequency);
        RedisKey[] keys = [keyPrefix + service];
        RedisValue[] args =
        [
            limit.Capacity.ToString(CultureInfo.InvariantCulture),
            (limit.RefillPerSecond / 1000).ToString("R", CultureInfo.InvariantCulture),
        ];
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var waitMs = (long)await redis.GetDatabase().ScriptEvaluateAsync(TakeTokenScript, keys, args).ConfigureAwait(false);
            if (waitMs == 0)
            {
                return;
            }

            var remaining = TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp(), deadline);
            if (remaining < TimeSpan.FromMilliseconds(waitMs))
            {
                throw RateLimitWaitExceeded.For(service, limit);
            }

            // The script computed when the next token exists; another worker may still take it first, hence the loop.
            await Task.Delay(TimeSpan.FromMilliseconds(waitMs), cancellationToken).ConfigureAwait(false);
        }
    }
}
