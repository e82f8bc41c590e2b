using StackExchange.Redis;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>The notices of a job's <c>start_by</c> (submit's <c>ttl_seconds</c>): only jobs that set one send them.</summary>
public sealed partial class JobQueue
{
    /// <summary>Where the API announces a new job's start_by (ttl_seconds; Unix milliseconds), so the workers' expirers wake on time.</summary>
    private RedisChannel ExpiryChannel => RedisChannel.Literal($"{_options.KeyPrefix}:jobs:expiry");

    /// <summary>Tells the workers' expirers that a job expires at <paramref name="startBy"/> unless started (a lost notice: their minute's reread).</summary>
    public async Task AnnounceExpiryAsync(DateTimeOffset startBy) => await redis.GetSubscriber().PublishAsync(ExpiryChannel, startBy.ToUnixTimeMilliseconds());

    /// <summary>Calls <paramref name="onAnnounced"/> with every start_by announced from now on.</summary>
    public async Task WatchExpiryAsync(Action<DateTimeOffset> onAnnounced) =>
        await redis.GetSubscriber().SubscribeAsync(ExpiryChannel, (_, message) =>
        {
            if (message.TryParse(out long milliseconds))
            {
                onAnnounced(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
            }
        });
}
