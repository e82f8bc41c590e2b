using System.Diagnostics;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Typed commands on keys and string values.</summary>
public static class RedisKeyCommands
{
    /// <summary>PING; returns the round-trip time.</summary>
    public static async Task<TimeSpan> PingAsync(this IRedisClient redis, CancellationToken ct = default)
    {
        var started = Stopwatch.GetTimestamp();
        await redis.ExecuteAsync("PING", [], ct).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(started);
    }

    public static async Task<string?> StringGetAsync(this IRedisClient redis, string key, CancellationToken ct = default) =>
        (await redis.ExecuteAsync("GET", [key], ct).ConfigureAwait(false)).AsString();

    /// <summary>SET with an optional expiry (millisecond precision) and NX; false when NX found the key already set.</summary>
    public static async Task<bool> StringSetAsync(
        this IRedisClient redis, string key, string value, TimeSpan? expiry = null, bool onlyIfNotExists = false, CancellationToken ct = default)
    {
        List<object> args = [key, value];
        if (expiry is { } ttl)
        {
            args.AddRange(["PX", ToMilliseconds(ttl)]);
        }
        if (onlyIfNotExists)
        {
            args.Add("NX");
        }
        return !(await redis.ExecuteAsync("SET", args, ct).ConfigureAwait(false)).IsNull;
    }

    /// <summary>DEL; returns how many of the keys existed.</summary>
    public static async Task<long> KeyDeleteAsync(this IRedisClient redis, params string[] keys) =>
        (await redis.ExecuteAsync("DEL", keys).ConfigureAwait(false)).AsInt64();

    /// <summary>PEXPIRE; false when the key does not exist.</summary>
    public static async Task<bool> KeyExpireAsync(this IRedisClient redis, string key, TimeSpan expiry, CancellationToken ct = default) =>
        (await redis.ExecuteAsync("PEXPIRE", [key, ToMilliseconds(expiry)], ct).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>INCRBY; returns the new value.</summary>
    public static async Task<long> IncrementAsync(this IRedisClient redis, string key, long by = 1, CancellationToken ct = default) =>
        (await redis.ExecuteAsync("INCRBY", [key, by], ct).ConfigureAwait(false)).AsInt64();

    public static async Task<bool> KeyExistsAsync(this IRedisClient redis, string key, CancellationToken ct = default) =>
        (await redis.ExecuteAsync("EXISTS", [key], ct).ConfigureAwait(false)).AsInt64() > 0;

    /// <summary>All keys matching a glob pattern, by iterating SCAN (never KEYS, which blocks the server); no duplicates.</summary>
    public static async Task<IReadOnlyList<string>> ScanKeysAsync(
        this IRedisClient redis, string pattern, int pageSize = 500, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        HashSet<string> seen = [];
        List<string> keys = [];
        var cursor = "0";
        do
        {
            var page = (await redis.ExecuteAsync("SCAN", [cursor, "MATCH", pattern, "COUNT", pageSize], ct).ConfigureAwait(false)).AsArray();
            cursor = page[0].AsString()!;
            // SCAN may return a key more than once while the table is resized.
            keys.AddRange(page[1].AsArray().Select(key => key.AsString()!).Where(seen.Add));
        }
        while (cursor != "0");
        return keys;
    }

    /// <summary>FLUSHDB: deletes every key of the selected database (tests and local tooling only).</summary>
    public static Task FlushDatabaseAsync(this IRedisClient redis, CancellationToken ct = default) =>
        redis.ExecuteAsync("FLUSHDB", [], ct);

    internal static long ToMilliseconds(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
        return (long)Math.Ceiling(value.TotalMilliseconds);
    }
}
