using System.Text.Json;
using System.Text.Json.Serialization;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Each worker's <see cref="ProviderHealthSnapshot"/>, in one Redis hash (<c>{prefix}:provider-health</c>, a field per
/// worker) beside the heartbeats and refreshed with them; the API's provider health view merges the live ones. A
/// report older than <see cref="WorkerHeartbeats.TimeToLive"/> belongs to a worker that stopped; the reader drops it.
/// </summary>
public sealed class ProviderHealthReports(IConnectionMultiplexer redis, IOptions<QueueOptions> options, TimeProvider time)
{
    private RedisKey Key => $"{options.Value.KeyPrefix}:provider-health";

    /// <summary>Writes the worker's snapshot, untraced (it runs with every heartbeat).</summary>
    public async Task PublishAsync(string workerId, ProviderHealthSnapshot snapshot)
    {
        using var untraced = RedisSetup.Untraced();
        await redis.GetDatabase().HashSetAsync(Key, workerId, JsonSerializer.Serialize(new WorkerProviderHealth(workerId, snapshot)));
    }

    public async Task RemoveAsync(string workerId) => await redis.GetDatabase().HashDeleteAsync(Key, workerId);

    /// <summary>The live workers' reports.</summary>
    public async Task<IReadOnlyList<WorkerProviderHealth>> ListAsync()
    {
        var now = time.GetUtcNow();
        return await WorkerHeartbeats.ReadLiveAsync<WorkerProviderHealth>(
            redis.GetDatabase(), Key, report => now - report.Snapshot.ReportedAt <= WorkerHeartbeats.TimeToLive);
    }
}

/// <summary>One worker's provider health report.</summary>
public sealed record WorkerProviderHealth(
    [property: JsonPropertyName("worker_id")] string WorkerId,
    [property: JsonPropertyName("snapshot")] ProviderHealthSnapshot Snapshot);
