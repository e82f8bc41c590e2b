using static LlmWorkflow.Pipeline.Redis.RedisKeyCommands;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Typed commands on streams and consumer groups (Redis 7 reply shapes).</summary>
public static class RedisStreamCommands
{
    /// <summary>XADD, optionally trimming to about <paramref name="maxLengthApprox"/> entries; returns the new entry's id.</summary>
    public static async Task<string> StreamAddAsync(
        this IRedisClient redis, string key, IReadOnlyList<KeyValuePair<string, string>> fields,
        long? maxLengthApprox = null, string id = "*", CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(fields.Count, nameof(fields));
        List<object> args = [key];
        if (maxLengthApprox is { } maxLength)
        {
            args.AddRange(["MAXLEN", "~", maxLength]);
        }
        args.Add(id);
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }
        return (await redis.ExecuteAsync("XADD", args, ct).ConfigureAwait(false)).AsString()!;
    }

    /// <summary>XGROUP CREATE (with MKSTREAM unless told otherwise); false when the group already exists.</summary>
    public static async Task<bool> StreamCreateGroupAsync(
        this IRedisClient redis, string key, string group, string startId = "0", bool createStream = true, CancellationToken ct = default)
    {
        try
        {
            await redis.ExecuteAsync("XGROUP", createStream ? ["CREATE", key, group, startId, "MKSTREAM"] : ["CREATE", key, group, startId], ct)
                .ConfigureAwait(false);
            return true;
        }
        catch (RedisServerException ex) when (ex.Code == "BUSYGROUP")
        {
            return false;
        }
    }

    /// <summary>
    /// XREADGROUP of new entries (<c>&gt;</c>) from each key. With <paramref name="block"/> the read waits on a dedicated
    /// connection for up to that long (zero: indefinitely, as BLOCK 0); a block that ends with nothing returns an empty list.
    /// </summary>
    public static async Task<IReadOnlyList<StreamReadResult>> StreamReadGroupAsync(
        this IRedisClient redis, string group, string consumer, IReadOnlyList<string> keys, int count, TimeSpan? block, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(keys.Count, nameof(keys));
        List<object> args = ["GROUP", group, consumer, "COUNT", count];
        return await ReadAsync(redis, "XREADGROUP", args, block, keys, keys.Select(_ => ">"), ct).ConfigureAwait(false);
    }

    /// <summary>XREAD of entries after the given id of each stream (<c>$</c> = only new ones); blocking as in <see cref="StreamReadGroupAsync"/>.</summary>
    public static async Task<IReadOnlyList<StreamReadResult>> StreamReadAsync(
        this IRedisClient redis, IReadOnlyList<(string Key, string AfterId)> streams, int count, TimeSpan? block, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(streams.Count, nameof(streams));
        List<object> args = ["COUNT", count];
        return await ReadAsync(redis, "XREAD", args, block, streams.Select(s => s.Key), streams.Select(s => s.AfterId), ct).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<StreamReadResult>> ReadAsync(
        IRedisClient redis, string command, List<object> args, TimeSpan? block, IEnumerable<string> keys, IEnumerable<string> ids, CancellationToken ct)
    {
        if (block is { } wait)
        {
            args.AddRange(["BLOCK", ToMilliseconds(wait)]);
        }
        args.Add("STREAMS");
        args.AddRange(keys);
        args.AddRange(ids);
        var reply = block is { } blockFor
            ? await redis.ExecuteBlockingAsync(command, args, blockFor, ct).ConfigureAwait(false)
            : await redis.ExecuteAsync(command, args, ct).ConfigureAwait(false);
        return RedisReplies.ToStreamReadResults(reply);
    }

    /// <summary>XACK; returns how many entries were acknowledged.</summary>
    public static async Task<long> StreamAckAsync(this IRedisClient redis, string key, string group, params string[] ids) =>
        (await redis.ExecuteAsync("XACK", [key, group, .. ids]).ConfigureAwait(false)).AsInt64();

    /// <summary>XDEL; returns how many entries were deleted.</summary>
    public static async Task<long> StreamDeleteAsync(this IRedisClient redis, string key, params string[] ids) =>
        (await redis.ExecuteAsync("XDEL", [key, .. ids]).ConfigureAwait(false)).AsInt64();

    /// <summary>
    /// XAUTOCLAIM of entries idle for at least <paramref name="minIdle"/>, scanning from <paramref name="start"/>.
    /// <c>NextStart</c> is "0-0" when the scan is complete; <c>DeletedIds</c> were pending but no longer exist.
    /// </summary>
    public static async Task<(string NextStart, IReadOnlyList<StreamEntry> Entries, IReadOnlyList<string> DeletedIds)> StreamAutoClaimAsync(
        this IRedisClient redis, string key, string group, string consumer, TimeSpan minIdle, string start, int count, CancellationToken ct = default)
    {
        var reply = (await redis.ExecuteAsync("XAUTOCLAIM", [key, group, consumer, ToMilliseconds(minIdle), start, "COUNT", count], ct)
            .ConfigureAwait(false)).AsArray();
        IReadOnlyList<string> deleted = reply.Count > 2 ? [.. reply[2].AsArray().Select(id => id.AsString()!)] : [];
        return (reply[0].AsString()!, RedisReplies.ToStreamEntries(reply[1]), deleted);
    }

    /// <summary>
    /// XCLAIM of specific entries idle for at least <paramref name="minIdle"/>; returns the ids now owned by
    /// <paramref name="consumer"/>. Claiming entries one already owns resets their idle time (a lease renewal);
    /// <paramref name="justId"/> leaves their delivery count unchanged.
    /// </summary>
    public static async Task<IReadOnlyList<string>> StreamClaimAsync(
        this IRedisClient redis, string key, string group, string consumer, TimeSpan minIdle, IReadOnlyList<string> ids,
        bool justId = true, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ids.Count, nameof(ids));
        List<object> args = [key, group, consumer, ToMilliseconds(minIdle), .. ids];
        if (justId)
        {
            args.Add("JUSTID");
        }
        var reply = (await redis.ExecuteAsync("XCLAIM", args, ct).ConfigureAwait(false)).AsArray();
        return [.. reply.Select(item => item.Kind == RedisValueKind.Array ? item.AsArray()[0].AsString()! : item.AsString()!)];
    }

    /// <summary>XPENDING summary: how many entries are pending, the id range and the count per consumer.</summary>
    public static async Task<(long Count, string? MinId, string? MaxId, IReadOnlyList<(string Consumer, long Count)> Consumers)> StreamPendingAsync(
        this IRedisClient redis, string key, string group, CancellationToken ct = default)
    {
        var reply = (await redis.ExecuteAsync("XPENDING", [key, group], ct).ConfigureAwait(false)).AsArray();
        IReadOnlyList<(string, long)> consumers = [.. reply[3].AsArray().Select(c => c.AsArray()).Select(c => (c[0].AsString()!, c[1].AsInt64()))];
        return (reply[0].AsInt64(), reply[1].AsString(), reply[2].AsString(), consumers);
    }

    /// <summary>XPENDING detail of up to <paramref name="count"/> entries, optionally of one consumer and idle for at least <paramref name="minIdle"/>.</summary>
    public static async Task<IReadOnlyList<(string Id, string Consumer, long IdleMs, long DeliveryCount)>> StreamPendingRangeAsync(
        this IRedisClient redis, string key, string group, int count, string? consumer = null, TimeSpan? minIdle = null, CancellationToken ct = default)
    {
        List<object> args = [key, group];
        if (minIdle is { } idle)
        {
            args.AddRange(["IDLE", ToMilliseconds(idle)]);
        }
        args.AddRange(["-", "+", count]);
        if (consumer is not null)
        {
            args.Add(consumer);
        }
        var reply = await redis.ExecuteAsync("XPENDING", args, ct).ConfigureAwait(false);
        return [.. reply.AsArray().Select(p => p.AsArray()).Select(p => (p[0].AsString()!, p[1].AsString()!, p[2].AsInt64(), p[3].AsInt64()))];
    }

    public static async Task<long> StreamLengthAsync(this IRedisClient redis, string key, CancellationToken ct = default) =>
        (await redis.ExecuteAsync("XLEN", [key], ct).ConfigureAwait(false)).AsInt64();

    /// <summary>XRANGE between two ids (inclusive; "-" and "+" are the ends), optionally limited to <paramref name="count"/> entries.</summary>
    public static async Task<IReadOnlyList<StreamEntry>> StreamRangeAsync(
        this IRedisClient redis, string key, string start = "-", string end = "+", int? count = null, CancellationToken ct = default)
    {
        List<object> args = [key, start, end];
        if (count is { } limit)
        {
            args.AddRange(["COUNT", limit]);
        }
        return RedisReplies.ToStreamEntries(await redis.ExecuteAsync("XRANGE", args, ct).ConfigureAwait(false));
    }

    /// <summary>XTRIM MAXLEN ~; returns how many entries were removed (approximate trimming removes whole nodes only).</summary>
    public static async Task<long> StreamTrimAsync(this IRedisClient redis, string key, long maxLengthApprox, CancellationToken ct = default) =>
        (await redis.ExecuteAsync("XTRIM", [key, "MAXLEN", "~", maxLengthApprox], ct).ConfigureAwait(false)).AsInt64();

    /// <summary>XINFO GROUPS, for the ops dashboard.</summary>
    public static async Task<IReadOnlyList<StreamGroupInfo>> StreamGroupsInfoAsync(this IRedisClient redis, string key, CancellationToken ct = default)
    {
        var reply = await redis.ExecuteAsync("XINFO", ["GROUPS", key], ct).ConfigureAwait(false);
        return [.. reply.AsArray().Select(RedisReplies.ToValueMap).Select(g => new StreamGroupInfo(
            g["name"].AsString()!,
            g["consumers"].AsInt64(),
            g["pending"].AsInt64(),
            g["last-delivered-id"].AsString()!,
            g.TryGetValue("lag", out var lag) && !lag.IsNull ? lag.AsInt64() : null))];
    }

    /// <summary>XINFO CONSUMERS, for the ops dashboard.</summary>
    public static async Task<IReadOnlyList<StreamConsumerInfo>> StreamConsumersInfoAsync(
        this IRedisClient redis, string key, string group, CancellationToken ct = default)
    {
        var reply = await redis.ExecuteAsync("XINFO", ["CONSUMERS", key, group], ct).ConfigureAwait(false);
        return [.. reply.AsArray().Select(RedisReplies.ToValueMap).Select(c => new StreamConsumerInfo(
            c["name"].AsString()!, c["pending"].AsInt64(), TimeSpan.FromMilliseconds(c["idle"].AsInt64())))];
    }
}
