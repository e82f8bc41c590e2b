using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>One dispatch stream's state for operators.</summary>
public sealed record StreamState(string Band, string Key, long Length, long Pending, long? Lag, double? OldestPendingIdleSeconds, IReadOnlyList<ConsumerState> Consumers);

/// <summary>One consumer (worker) in the group.</summary>
public sealed record ConsumerState(string Name, long Pending, long IdleMs);

/// <summary>Queue, worker and dead-letter state for /health and the dashboard.</summary>
public sealed record QueueState(IReadOnlyList<StreamState> Streams, IReadOnlyList<WorkerHeartbeat> Workers, long DeadLetters, DateTimeOffset? OldestQueuedAt);

/// <summary>Reads the dispatch streams' state from Redis (XINFO, XPENDING) and worker heartbeats.</summary>
public sealed class QueueSnapshot(IRedisClient redis, JobQueue queue, WorkerHeartbeats heartbeats)
{
    public async Task<QueueState> TakeAsync(DateTimeOffset? oldestQueuedAt, CancellationToken cancellationToken)
    {
        var streams = new List<StreamState>();
        foreach (var band in PriorityBands.ReadOrder)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = queue.StreamKey(band);
            var length = await redis.StreamLengthAsync(key);
            long pending = 0;
            long? lag = null;
            double? oldestIdle = null;
            var consumers = new List<ConsumerState>();
            if (length > 0 || await redis.KeyExistsAsync(key))
            {
                var groups = await redis.StreamGroupsInfoAsync(key);
                var group = groups.FirstOrDefault(g => g.Name == queue.ConsumerGroup);
                if (group is not null)
                {
                    pending = group.Pending;
                    lag = group.Lag;
                    foreach (var consumer in await redis.StreamConsumersInfoAsync(key, queue.ConsumerGroup))
                    {
                        consumers.Add(new ConsumerState(consumer.Name, consumer.Pending, (long)consumer.Idle.TotalMilliseconds));
                    }

                    if (pending > 0)
                    {
                        var oldest = await redis.StreamPendingRangeAsync(key, queue.ConsumerGroup, 1);
                        oldestIdle = oldest.Count > 0 ? oldest[0].IdleMs / 1000.0 : null;
                    }
                }
            }

            streams.Add(new StreamState(band.ToString().ToLowerInvariant(), key, length, pending, lag, oldestIdle, consumers));
        }

        var deadLetters = await redis.StreamLengthAsync(queue.DeadLetterKey);
        return new QueueState(streams, await heartbeats.ListAsync(), deadLetters, oldestQueuedAt);
    }
}
