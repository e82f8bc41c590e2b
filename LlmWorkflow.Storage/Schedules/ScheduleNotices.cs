using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// The API's notice to the workers' tickers that a schedule was created or changed, with its next tick (Unix
/// milliseconds), so a ticker sleeping past it wakes earlier: pushed, like the due-job notice. A lost notice costs at
/// most the tickers' backstop reread (a minute), never a tick: the tick is decided late, not lost.
/// </summary>
public sealed class ScheduleNotices(IConnectionMultiplexer redis, IOptions<QueueOptions> options)
{
    private RedisChannel Channel => RedisChannel.Literal($"{options.Value.KeyPrefix}:schedules:changed");

    public async Task AnnounceAsync(DateTimeOffset nextRunAt) => await redis.GetSubscriber().PublishAsync(Channel, nextRunAt.ToUnixTimeMilliseconds());

    /// <summary>Calls <paramref name="onChanged"/> with every next tick announced from now on.</summary>
    public async Task WatchAsync(Action<DateTimeOffset> onChanged) =>
        await redis.GetSubscriber().SubscribeAsync(Channel, (_, message) =>
        {
            if (message.TryParse(out long milliseconds))
            {
                onChanged(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
            }
        });
}
