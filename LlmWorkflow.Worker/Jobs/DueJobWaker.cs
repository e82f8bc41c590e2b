using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Wakes scheduled jobs on time without polling: it sleeps until the earliest due time PostgreSQL knows, and the API's
/// notice of an earlier one (a new or rescheduled job, over Redis pub/sub) cuts the sleep short. At the due time it
/// runs the Wake statement through <see cref="DispatchReconciler.WakeDueAsync"/> (every worker's waker may; SKIP
/// LOCKED lets one take each job), then sleeps until the next. It re-reads PostgreSQL at least every
/// <see cref="LongestSleep"/>, and the reconciler's pass wakes anything due, so a lost notice costs seconds, never a
/// job; a waker starting after an outage wakes everything that fell due meanwhile, once.
/// </summary>
internal sealed partial class DueJobWaker(
    DispatchReconciler reconciler,
    JobLifecycleStore store,
    JobQueue queue,
    TimeProvider time,
    ILogger<DueJobWaker> logger) : BackgroundService
{
    private static readonly TimeSpan LongestSleep = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The shortest sleep after a pass that found the next job already due: PostgreSQL's clock decides "due", and it may
    /// run a little behind this host's; without a floor the waker would spin until it catches up.
    /// </summary>
    private static readonly TimeSpan ClockSkewRetry = TimeSpan.FromMilliseconds(5);

    private readonly Lock _gate = new();
    private DateTimeOffset? _nextDue;
    private TaskCompletionSource _earlier = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cuts the current sleep short when <paramref name="dueAt"/> is earlier than the time it sleeps until.</summary>
    public void Announce(DateTimeOffset dueAt)
    {
        lock (_gate)
        {
            if (_nextDue is null || dueAt < _nextDue)
            {
                _nextDue = dueAt;
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
                var woken = await reconciler.WakeDueAsync(stoppingToken);
                var next = await store.NextDueAsync(stoppingToken);
                lock (_gate)
                {
                    _nextDue = _nextDue is { } announced && next is { } known ? (announced < known ? announced : known) : _nextDue ?? next;
                    next = _nextDue;
                }

                sleep = next is { } due ? due - time.GetUtcNow() : LongestSleep;
                if (woken == 0 && sleep <= TimeSpan.Zero)
                {
                    sleep = ClockSkewRetry;
                }

                sleep = sleep > LongestSleep ? LongestSleep : sleep < TimeSpan.Zero ? TimeSpan.Zero : sleep;
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogWakeFailed(ex, backoff.TotalMilliseconds);
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
                await queue.WatchDueAsync(Announce);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Redis unreachable at start: the sleeps stay bounded by PostgreSQL's due times; try again shortly.
                LogWatchFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking due jobs failed; retrying in {DelayMs} ms")]
    private partial void LogWakeFailed(Exception ex, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to due-time notices failed; retrying")]
    private partial void LogWatchFailed(Exception ex);
}
