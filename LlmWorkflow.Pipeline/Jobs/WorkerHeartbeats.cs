using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>A worker's self-report, refreshed every few seconds; it expires when the worker stops or dies.</summary>
public sealed record WorkerHeartbeat(
    [property: JsonPropertyName("worker_id")] string WorkerId,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("process_id")] int ProcessId,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("last_seen_at")] DateTimeOffset LastSeenAt,
    [property: JsonPropertyName("in_flight")] int InFlight,
    [property: JsonPropertyName("max_concurrent_jobs")] int MaxConcurrentJobs);

/// <summary>Worker heartbeats in Redis (<c>{prefix}:workers:{id}</c> with a TTL), read by /health and the dashboard.</summary>
public sealed class WorkerHeartbeats(IConnectionMultiplexer redis, IOptions<QueueOptions> options)
{
    private const string Field = "heartbeat";

    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(15);

    private string Prefix => $"{options.Value.KeyPrefix}:workers:";

    /// <summary>Writes the heartbeat (a hash field with a TTL), untraced: it runs every few seconds, busy or idle.</summary>
    public async Task BeatAsync(WorkerHeartbeat heartbeat)
    {
        using var untraced = RedisSetup.Untraced();
        var key = Prefix + heartbeat.WorkerId;
        var batch = redis.GetDatabase().CreateBatch();
        var set = batch.HashSetAsync(key, Field, JsonSerializer.Serialize(heartbeat));
        var expire = batch.KeyExpireAsync(key, TimeToLive);
        batch.Execute();
        await Task.WhenAll(set, expire);
    }

    public async Task RemoveAsync(string workerId) => await redis.GetDatabase().KeyDeleteAsync(Prefix + workerId);

    public async Task<IReadOnlyList<WorkerHeartbeat>> ListAsync()
    {
        var db = redis.GetDatabase();
        var beats = new List<WorkerHeartbeat>();
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(db.Database, Prefix + "*"))
            {
                if ((string?)await db.HashGetAsync(key, Field) is { } json && JsonSerializer.Deserialize<WorkerHeartbeat>(json) is { } beat)
                {
                    beats.Add(beat);
                }
            }
        }

        return beats.OrderBy(b => b.WorkerId, StringComparer.Ordinal).ToArray();
    }
}
