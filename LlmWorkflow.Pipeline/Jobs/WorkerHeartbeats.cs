using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Redis;

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
public sealed class WorkerHeartbeats(IRedisClient redis, IOptions<QueueOptions> options)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(15);

    private string Prefix => $"{options.Value.KeyPrefix}:workers:";

    public Task BeatAsync(WorkerHeartbeat heartbeat) =>
        redis.StringSetAsync(Prefix + heartbeat.WorkerId, JsonSerializer.Serialize(heartbeat), TimeToLive);

    public async Task RemoveAsync(string workerId) => await redis.KeyDeleteAsync(Prefix + workerId);

    public async Task<IReadOnlyList<WorkerHeartbeat>> ListAsync()
    {
        var keys = await redis.ScanKeysAsync(Prefix + "*");
        var beats = new List<WorkerHeartbeat>(keys.Count);
        foreach (var key in keys)
        {
            if (await redis.StringGetAsync(key) is { } json && JsonSerializer.Deserialize<WorkerHeartbeat>(json) is { } beat)
            {
                beats.Add(beat);
            }
        }

        return beats.OrderBy(b => b.WorkerId, StringComparer.Ordinal).ToArray();
    }
}
