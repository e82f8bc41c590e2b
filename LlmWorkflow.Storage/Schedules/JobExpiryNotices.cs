using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// The API's notice to the workers' expirers of a new job's <c>start_by</c> (Unix milliseconds), so an expirer sleeping
/// past it wakes on time: pushed, like the due-job notice. A lost notice costs at most the expirer's backstop reread (a
/// minute); the claim skips an expired job meanwhile, so it never runs late.
/// </summary>
public sealed class JobExpiryNotices(IConnectionMultiplexer redis, IOptions<QueueOptions> options)
{
    private RedisChannel Channel => RedisChannel.Literal($"{options.Value.KeyPrefix}:jobs:expiry");

    public async Task AnnounceAsync(DateTimeOffset startBy) => await redis.GetSubscriber().PublishAsync(Channel, startBy.ToUnixTimeMilliseconds());

    /// <summary>Calls <paramref name="onAnnounced"/> with every <c>start_by</c> announced from now on.</summary>
    public async Task WatchAsync(Action<DateTimeOffset> onAnnounced) =>
        await redis.GetSubscriber().SubscribeAsync(Channel, (_, message) =>
        {
            if (message.TryParse(out long milliseconds))
            {
                onAnnounced(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
            }
        });
}
