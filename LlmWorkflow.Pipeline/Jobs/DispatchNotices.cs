using StackExchange.Redis;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// A pub/sub channel turned into a wake-up: <see cref="Next"/> returns a task that completes at the next message. The
/// subscription is made once, on first use; StackExchange.Redis renews it after a reconnect (messages published
/// meanwhile are lost, which the readers' bounded poll covers).
/// </summary>
internal sealed class DispatchNotices
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DispatchNotices(IConnectionMultiplexer redis, RedisChannel channel) =>
        redis.GetSubscriber().Subscribe(channel, (_, _) => Interlocked.Exchange(ref _next, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult());

    /// <summary>Completes at the next message after this call.</summary>
    public Task Next() => Volatile.Read(ref _next).Task;
}
