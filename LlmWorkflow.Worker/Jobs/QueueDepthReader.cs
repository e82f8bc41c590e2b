using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Reads, per priority band, how many dispatch entries are not yet acknowledged (the group's lag plus its pending
/// entries) and how old the oldest of them is (stream ids are the enqueue time in milliseconds).
/// </summary>
internal sealed class QueueDepthReader(IRedisClient redis, JobQueue queue, TimeProvider time)
{
    public async Task<IReadOnlyList<BandReading>> ReadAsync(CancellationToken cancellationToken)
    {
        var readings = new List<BandReading>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var band in PriorityBands.ReadOrder)
        {
            var key = queue.StreamKey(band);
            var name = band.ToString().ToLowerInvariant();
            var group = (await redis.KeyExistsAsync(key)
                ? await redis.StreamGroupsInfoAsync(key, cancellationToken)
                : []).FirstOrDefault(g => g.Name == queue.ConsumerGroup);
            if (group is null)
            {
                readings.Add(new BandReading(name, 0, 0));
                continue;
            }

            var lag = group.Lag ?? await redis.StreamLengthAsync(key, cancellationToken);
            long? oldest = null;
            if (group.Pending > 0 && (await redis.StreamPendingRangeAsync(key, group.Name, 1, ct: cancellationToken)) is [var first, ..])
            {
                oldest = IdMilliseconds(first.Id);
            }
            else if (lag > 0 && (await redis.StreamRangeAsync(key, "(" + group.LastDeliveredId, "+", 1, cancellationToken)) is [var next, ..])
            {
                oldest = IdMilliseconds(next.Id);
            }

            readings.Add(new BandReading(name, group.Pending + lag, oldest is { } ms ? Math.Max(0, (now - ms) / 1000.0) : 0));
        }

        return readings;
    }

    private static long IdMilliseconds(string id) => long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
}
