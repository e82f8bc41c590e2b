using LlmWorkflow.Storage.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Reads, per priority band, how many dispatch entries are not yet acknowledged (the group's lag plus its pending
/// entries) and how old the oldest of them is (stream ids are the enqueue time in milliseconds).
/// </summary>
internal sealed class QueueDepthReader(IConnectionMultiplexer multiplexer, JobQueue queue, TimeProvider time)
{
    public async Task<IReadOnlyList<BandReading>> ReadAsync(CancellationToken cancellationToken)
    {
        using var untraced = LlmWorkflow.Storage.RedisSetup.Untraced();
        var redis = multiplexer.GetDatabase();
        var readings = new List<BandReading>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var band in PriorityBands.ReadOrder)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = queue.StreamKey(band);
            var name = band.ToString().ToLowerInvariant();
            var groups = await redis.KeyExistsAsync(key) ? await redis.StreamGroupInfoAsync(key) : [];
            if (groups.FirstOrDefault(g => g.Name == queue.ConsumerGroup) is not { Name: not null } group)
            {
                readings.Add(new BandReading(name, 0, 0));
                continue;
            }

            var lag = group.Lag ?? await redis.StreamLengthAsync(key);
            long? oldest = null;
            if (group.PendingMessageCount > 0 && (await redis.StreamPendingMessagesAsync(key, queue.ConsumerGroup, 1, RedisValue.Null)) is [var first, ..])
            {
                oldest = IdMilliseconds(first.MessageId.ToString());
            }
            else if (lag > 0 && (await redis.StreamRangeAsync(key, "(" + group.LastDeliveredId, "+", 1)) is [var next, ..])
            {
                oldest = IdMilliseconds(next.Id.ToString());
            }

            readings.Add(new BandReading(name, group.PendingMessageCount + lag, oldest is { } ms ? Math.Max(0, (now - ms) / 1000.0) : 0));
        }

        return readings;
    }

    private static long IdMilliseconds(string id) => long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
}
