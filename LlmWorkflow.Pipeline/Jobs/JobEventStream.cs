using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The per-job live event stream in Redis (<c>{prefix}:events:{jobId}</c>) that the API serves as Server-Sent
/// Events. Entry ids double as SSE ids, so a client resumes with <c>Last-Event-ID</c>. Streams expire an hour after
/// the terminal event; Postgres keeps the durable record.
/// </summary>
public sealed class JobEventStream(IRedisClient redis, IOptions<QueueOptions> options)
{
    public const string TypeField = "type";
    public const string DataField = "data";
    private const long MaxEventsPerJob = 5_000;
    private static readonly TimeSpan RetentionAfterEnd = TimeSpan.FromHours(1);

    public static IReadOnlySet<string> TerminalTypes { get; } = new HashSet<string> { "run_completed", "run_failed", "cancelled" };

    public string Key(Guid jobId) => $"{options.Value.KeyPrefix}:events:{jobId}";

    public async Task PublishAsync(Guid jobId, string type, JsonObject data, CancellationToken cancellationToken = default)
    {
        var key = Key(jobId);
        await redis.StreamAddAsync(key, [new(TypeField, type), new(DataField, data.ToJsonString())], MaxEventsPerJob);
        if (TerminalTypes.Contains(type))
        {
            await redis.KeyExpireAsync(key, RetentionAfterEnd);
        }
    }

    /// <summary>The XADD of one event (its JSON as UTF-8), for pipelined writers.</summary>
    public RedisCommand AddCommand(Guid jobId, string type, byte[] data) =>
        new("XADD", [Key(jobId), "MAXLEN", "~", MaxEventsPerJob, "*", TypeField, type, DataField, data]);

    /// <summary>The EXPIRE that follows a terminal event.</summary>
    public RedisCommand ExpireCommand(Guid jobId) =>
        new("EXPIRE", [Key(jobId), (long)RetentionAfterEnd.TotalSeconds]);

    /// <summary>Forgets a job's live events (a retried job starts a fresh stream).</summary>
    public async Task DeleteAsync(Guid jobId) => await redis.KeyDeleteAsync(Key(jobId));

    /// <summary>The stream's newest event, or null when the stream does not exist (never written, expired or deleted).</summary>
    public async Task<StreamEntry?> LastAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var reply = await redis.ExecuteAsync("XREVRANGE", [Key(jobId), "+", "-", "COUNT", 1], cancellationToken);
        var entries = RedisReplies.ToStreamEntries(reply);
        return entries.Count == 0 ? null : entries[0];
    }

    /// <summary>Events after <paramref name="afterId"/> ("0" = from the start), waiting up to <paramref name="block"/> for new ones.</summary>
    public async Task<IReadOnlyList<StreamEntry>> ReadAsync(Guid jobId, string afterId, TimeSpan block, CancellationToken cancellationToken)
    {
        var results = await redis.StreamReadAsync([(Key(jobId), afterId)], 100, block, cancellationToken);
        return results.Count == 0 ? [] : results[0].Entries;
    }
}
