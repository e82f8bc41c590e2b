namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Typed commands on hashes.</summary>
internal static class RedisHashCommands
{
    /// <summary>HSET of several fields at once; returns how many fields were new.</summary>
    public static async Task<long> HashSetAsync(
        this IRedisClient redis, string key, IEnumerable<KeyValuePair<string, string>> fields, CancellationToken ct = default)
    {
        List<object> args = [key];
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(args.Count, 3, nameof(fields));
        return (await redis.ExecuteAsync("HSET", args, ct).ConfigureAwait(false)).AsInt64();
    }

    /// <summary>HGETALL; empty when the key does not exist.</summary>
    public static async Task<Dictionary<string, string>> HashGetAllAsync(this IRedisClient redis, string key, CancellationToken ct = default) =>
        RedisReplies.ToDictionary(await redis.ExecuteAsync("HGETALL", [key], ct).ConfigureAwait(false));
}
