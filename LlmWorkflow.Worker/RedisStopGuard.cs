using StackExchange.Redis;

namespace LlmWorkflow.Worker;

/// <summary>
/// Keeps a stopping worker from waiting on a Redis that is gone. At a whole-system stop (the AppHost's Ctrl+C)
/// redis-server exits first, within half a second; every Redis command a background loop issues after that waits in
/// the client's backlog for a reconnect that never comes, until its 5-s timeout, and holds the worker's exit (measured:
/// workers gone 6.5-9.1 s after Ctrl+C, their threads in <c>PhysicalBridge.ProcessBacklog</c>). So once the host is
/// stopping and the connection is lost (or already was), the multiplexer is closed without letting commands complete:
/// the backlog fails at once and every loop sees a failed command, as it would for a lost Redis. Nothing durable is
/// lost: PostgreSQL records jobs and leases; a stream entry not acknowledged stays pending and is reclaimed by another
/// worker (its claim finds the job's lease); live events and the presence keys are best effort and expire. A worker
/// stopping alone, with Redis up, is not touched: its goodbye and last live events still reach Redis.
/// </summary>
internal sealed partial class RedisStopGuard(
    IConnectionMultiplexer redis, IHostApplicationLifetime lifetime, ILogger<RedisStopGuard> logger) : IHostedService
{
    private int _closed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() =>
        {
            // Subscribed before the check, so a loss between the two is not missed.
            redis.ConnectionFailed += (_, _) => CloseOnce();
            if (!redis.IsConnected)
            {
                CloseOnce();
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void CloseOnce()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        LogClosing();
        // Off the caller's thread: ConnectionFailed is raised on the client's own threads.
        _ = Task.Run(async () =>
        {
            try
            {
                await redis.CloseAsync(allowCommandsToComplete: false);
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or TimeoutException)
            {
                LogCloseFailed(ex);
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping with Redis unreachable: its client is closed so that no command waits for a reconnect")]
    private partial void LogClosing();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing the Redis client at the stop failed")]
    private partial void LogCloseFailed(Exception ex);
}
