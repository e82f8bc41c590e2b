using LlmWorkflow.Pipeline.Schedules;

namespace LlmWorkflow.Worker.Schedules;

/// <summary>
/// Ticks schedules on time without polling: it sleeps until the earliest <c>next_run_at</c> PostgreSQL knows, and the
/// API's notice of a created or changed schedule (Redis pub/sub) cuts the sleep short. At the due time it runs
/// <see cref="ScheduleTickRunner.RunDueAsync"/>; every worker's ticker may, and the runner's row lock and tick key let
/// exactly one decide each tick. It rereads PostgreSQL at least every <see cref="LongestSleep"/>, so a lost notice
/// makes a tick late by at most that, never lost; a ticker starting after an outage decides everything that fell due
/// meanwhile by the schedules' catch-up policies.
/// </summary>
internal sealed partial class ScheduleTicker(
    ScheduleTickRunner runner,
    ScheduleStore store,
    ScheduleNotices notices,
    TimeProvider time,
    ILogger<ScheduleTicker> logger) : BackgroundService
{
    private static readonly TimeSpan LongestSleep = TimeSpan.FromMinutes(1);

    /// <summary>The shortest sleep after a pass that found the next tick already due (clocks of hosts differ slightly).</summary>
    private static readonly TimeSpan ClockSkewRetry = TimeSpan.FromMilliseconds(5);

    private readonly Lock _gate = new();
    private DateTimeOffset? _nextDue;
    private TaskCompletionSource _earlier = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cuts the current sleep short when <paramref name="nextRunAt"/> is earlier than the time it sleeps until.</summary>
    public void Announce(DateTimeOffset nextRunAt)
    {
        lock (_gate)
        {
            if (_nextDue is null || nextRunAt < _nextDue)
            {
                _nextDue = nextRunAt;
                _earlier.TrySetResult();
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WatchAsync(stoppingToken);
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            Task earlier;
            lock (_gate)
            {
                // Until the read below sets it, any notice counts as earlier: one arriving mid-pass is not lost.
                _nextDue = null;
                _earlier = new(TaskCreationOptions.RunContinuationsAsynchronously);
                earlier = _earlier.Task;
            }

            TimeSpan sleep;
            try
            {
                var decided = await runner.RunDueAsync(stoppingToken);
                var next = await store.EarliestNextRunAsync(stoppingToken);
                lock (_gate)
                {
                    _nextDue = _nextDue is { } announced && next is { } known ? (announced < known ? announced : known) : _nextDue ?? next;
                    next = _nextDue;
                }

                sleep = next is { } due ? due - time.GetUtcNow() : LongestSleep;
                if (decided == 0 && sleep <= TimeSpan.Zero)
                {
                    sleep = ClockSkewRetry;
                }

                sleep = sleep > LongestSleep ? LongestSleep : sleep < TimeSpan.Zero ? TimeSpan.Zero : sleep;
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTickFailed(ex, backoff.TotalMilliseconds);
                sleep = backoff;
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5_000));
            }

            if (sleep > TimeSpan.Zero)
            {
                await Task.WhenAny(earlier, Task.Delay(sleep, time, stoppingToken)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // StackExchange.Redis renews the subscription after a reconnect.
                await notices.WatchAsync(Announce);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Redis unreachable at start: the sleeps stay bounded by PostgreSQL's next ticks; try again shortly.
                LogWatchFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ticking schedules failed; retrying in {DelayMs} ms")]
    private partial void LogTickFailed(Exception ex, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to schedule notices failed; retrying")]
    private partial void LogWatchFailed(Exception ex);
}
