using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// A worker's self-report, refreshed every few seconds; it expires when the worker stops or dies. <c>dispatch_error</c>
/// is set while the worker's reads of the dispatch streams fail.
/// </summary>
public sealed record WorkerHeartbeat(
    [property: JsonPropertyName("worker_id")] string WorkerId,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("process_id")] int ProcessId,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("last_seen_at")] DateTimeOffset LastSeenAt,
    [property: JsonPropertyName("in_flight")] int InFlight,
    [property: JsonPropertyName("max_concurrent_jobs")] int MaxConcurrentJobs,
    [property: JsonPropertyName("dispatch_error")] string? DispatchError = null);

/// <summary>
/// Worker heartbeats in one Redis hash (<c>{prefix}:workers</c>, a field per worker), read by /health, the dashboard
/// and the wait estimate on the submit path. One hash rather than a key per worker: listing keys by pattern walks the
/// whole keyspace, which holds a live-event stream per recent job. A field older than <see cref="TimeToLive"/>
/// belongs to a worker that died; the reader skips and removes it.
/// </summary>
public sealed class WorkerHeartbeats(IConnectionMultiplexer redis, IOptions<QueueOptions> options, TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(15);

    private RedisKey Key => $"{options.Value.KeyPrefix}:workers";

    /// <summary>Writes the heartbeat, untraced: it runs every few seconds, busy or idle.</summary>
    public async Task BeatAsync(WorkerHeartbeat heartbeat)
    {
        using var untraced = RedisSetup.Untraced();
        await redis.GetDatabase().HashSetAsync(Key, heartbeat.WorkerId, JsonSerializer.Serialize(heartbeat));
    }

    public async Task RemoveAsync(string workerId) => await redis.GetDatabase().HashDeleteAsync(Key, workerId);

    /// <summary>The live heartbeats, or null when Redis cannot be read (for health checks, which report that as degraded).</summary>
    public async Task<IReadOnlyList<WorkerHeartbeat>?> TryListAsync()
    {
        try
        {
            return await ListAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<WorkerHeartbeat>> ListAsync()
    {
        var now = time.GetUtcNow();
        var live = await ReadLiveAsync<WorkerHeartbeat>(redis.GetDatabase(), Key, beat => now - beat.LastSeenAt <= TimeToLive);
        return live.OrderBy(b => b.WorkerId, StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// The reports of a hash of per-worker JSON fields (heartbeats, provider health) that are still live; the fields of
    /// workers that stopped without removing theirs are deleted as they are found.
    /// </summary>
    internal static async Task<List<T>> ReadLiveAsync<T>(IDatabase db, RedisKey key, Func<T, bool> isLive) where T : class
    {
        var live = new List<T>();
        var dead = new List<RedisValue>();
        foreach (var entry in await db.HashGetAllAsync(key))
        {
            if (JsonSerializer.Deserialize<T>((string)entry.Value!) is { } report && isLive(report))
            {
                live.Add(report);
            }
            else
            {
                dead.Add(entry.Name);
            }
        }

        if (dead.Count > 0)
        {
            await db.HashDeleteAsync(key, dead.ToArray());
        }

        return live;
    }
}
