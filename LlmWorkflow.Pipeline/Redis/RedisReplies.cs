namespace LlmWorkflow.Pipeline.Redis;

/// <summary>Shapes shared by several typed commands' replies.</summary>
internal static class RedisReplies
{
    /// <summary>A flat [field, value, field, value, ...] array (HGETALL, stream entry fields) as a dictionary.</summary>
    public static Dictionary<string, string> ToDictionary(RedisValue flat)
    {
        var items = flat.AsArray();
        var result = new Dictionary<string, string>(items.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            result[items[i].AsString()!] = items[i + 1].AsString() ?? "";
        }
        return result;
    }

    /// <summary>A flat map whose values may be integers, strings or nil (XINFO replies), keyed by field name.</summary>
    public static Dictionary<string, RedisValue> ToValueMap(RedisValue flat)
    {
        var items = flat.AsArray();
        var result = new Dictionary<string, RedisValue>(items.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            result[items[i].AsString()!] = items[i + 1];
        }
        return result;
    }

    /// <summary>One stream entry: [id, [field, value, ...]]; the fields are nil for an entry deleted while pending.</summary>
    public static StreamEntry ToStreamEntry(RedisValue entry)
    {
        var parts = entry.AsArray();
        return new StreamEntry(parts[0].AsString()!, ToDictionary(parts[1]));
    }

    public static IReadOnlyList<StreamEntry> ToStreamEntries(RedisValue entries) =>
        [.. entries.AsArray().Select(ToStreamEntry)];

    /// <summary>XREAD/XREADGROUP: [[stream, entries], ...], or nil when a block timed out.</summary>
    public static IReadOnlyList<StreamReadResult> ToStreamReadResults(RedisValue reply) =>
        [.. reply.AsArray().Select(stream => stream.AsArray()).Select(pair => new StreamReadResult(pair[0].AsString()!, ToStreamEntries(pair[1])))];
}
