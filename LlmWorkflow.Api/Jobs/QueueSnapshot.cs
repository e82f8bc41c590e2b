using StackExchange.Redis;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Jobs;

/// <summary>One dispatch stream's state for operators.</summary>
public sealed record StreamState(string Band, string Key, long Length, long Pending, long? Lag, double? OldestPendingIdleSeconds, IReadOnlyList<ConsumerState> Consumers);

/// <summary>One consumer (worker) in the group.</summary>
public sealed record ConsumerState(string Name, long Pending, long IdleMs);

/// <summary>Queue, worker and dead-letter state for /health and the dashboard.</summary>
public sealed record QueueState(IReadOnlyList<StreamState> Streams, IReadOnlyList<WorkerHeartbeat> Workers, long DeadLetters, DateTimeOffset? OldestQueuedAt);

/// <summary>Reads the dispatch streams' state from Redis (XINFO, XPENDING) and worker heartbeats.</summary>
public sealed class QueueSnapshot(IConnectionMultiplexer multiplexer, JobQueue queue, WorkerHeartbeats heartbeats)
{
    public async Task<QueueState> TakeAsync(DateTimeOffset? oldestQueuedAt, CancellationToken cancellationToken)
    {
        var redis = multiplexer.GetDatabase();
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
                var groups = await redis.StreamGroupInfoAsync(key);
                if (groups.FirstOrDefault(g => g.Name == queue.ConsumerGroup) is { Name: not null } group)
                {
                    pending = group.PendingMessageCount;
                    lag = group.Lag;
                    foreach (var consumer in await redis.StreamConsumerInfoAsync(key, queue.ConsumerGroup))
                    {
                        consumers.Add(new ConsumerState(consumer.Name, consumer.PendingMessageCount, consumer.IdleTimeInMilliseconds));
                    }

                    if (pending > 0)
                    {
                        var oldest = await redis.StreamPendingMessagesAsync(key, queue.ConsumerGroup, 1, RedisValue.Null);
                        oldestIdle = oldest.Length > 0 ? oldest[0].IdleTimeInMilliseconds / 1000.0 : null;
                    }
                }
            }

            streams.Add(new StreamState(band.ToString().ToLowerInvariant(), key, length, pending, lag, oldestIdle, consumers));
        }

        var deadLetters = await redis.StreamLengthAsync(queue.DeadLetterKey);
        return new QueueState(streams, await heartbeats.ListAsync(), deadLetters, oldestQueuedAt);
    }
}
