namespace LlmWorkflow.Worker;

/// <summary>
/// Runs work at the times PostgreSQL holds, without polling: it sleeps until the earliest due time, and a notice of
/// an earlier one (over Redis pub/sub, from whoever wrote it) cuts the sleep short. At the due time it runs the due
/// work, then sleeps until the next. It rereads PostgreSQL at least every <see cref="LongestSleep"/>, so a lost notice
/// makes work late by at most that, never lost; a loop starting after an outage runs everything that fell due
/// meanwhile. Hand-written because hosted-service packages schedule by interval or cron, not by a time in a table that
/// other processes move. The due-job waker and the schedule ticker are its two uses.
/// </summary>
internal abstract partial class DueTimeLoop(TimeProvider time, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan LongestSleep = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The shortest sleep after a pass that found the next due time already past: PostgreSQL's clock decides "due", and
    /// it may run a little behind this host's; without a floor the loop would spin until it catches up.
    /// </summary>
    private static readonly TimeSpan ClockSkewRetry = TimeSpan.FromMilliseconds(5);

    private readonly Lock _gate = new();
    private DateTimeOffset? _nextDue;
    private TaskCompletionSource _earlier = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the loop does, for its log lines ("waking due jobs").</summary>
    protected abstract string Work { get; }

    /// <summary>Runs what is due now; returns how much it did (0 makes a past due time a clock-skew retry).</summary>
    protected abstract Task<int> RunDueAsync(CancellationToken cancellationToken);

    /// <summary>The earliest due time PostgreSQL holds, or null.</summary>
    protected abstract Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken);

    /// <summary>Subscribes <paramref name="announce"/> to the notices of new due times.</summary>
    protected abstract Task WatchNoticesAsync(Action<DateTimeOffset> announce);

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
                sleep = await PassAsync(stoppingToken);
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPassFailed(ex, Work, backoff.TotalMilliseconds);
                sleep = backoff;
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5_000));
            }

            if (sleep > TimeSpan.Zero)
            {
                await Task.WhenAny(earlier, Task.Delay(sleep, time, stoppingToken)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One pass: runs what is due and returns how long to sleep before the next.</summary>
    private async Task<TimeSpan> PassAsync(CancellationToken stoppingToken)
    {
        var done = await RunDueAsync(stoppingToken);
        var next = await NextDueAsync(stoppingToken);
        lock (_gate)
        {
            _nextDue = _nextDue is { } announced && next is { } known ? (announced < known ? announced : known) : _nextDue ?? next;
            next = _nextDue;
        }

        var sleep = next is { } due ? due - time.GetUtcNow() : LongestSleep;
        if (done == 0 && sleep <= TimeSpan.Zero)
        {
            sleep = ClockSkewRetry;
        }

        return sleep > LongestSleep ? LongestSleep : sleep < TimeSpan.Zero ? TimeSpan.Zero : sleep;
    }

    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // StackExchange.Redis renews the subscription after a reconnect.
                await WatchNoticesAsync(Announce);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Redis unreachable at start: the sleeps stay bounded by PostgreSQL's due times; try again shortly.
                LogWatchFailed(ex, Work);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Work} failed; retrying in {DelayMs} ms")]
    private partial void LogPassFailed(Exception ex, string work, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to the notices for {Work} failed; retrying")]
    private partial void LogWatchFailed(Exception ex, string work);
}

/// <summary>
/// A capability's work at the due-job waker's times (Scheduling's expiry of jobs past their <c>ttl_seconds</c>): it runs
/// in the waker's passes and its next due time shortens the waker's sleep, so it adds no loop and no reread of its own.
/// </summary>
public interface IDueTimeWork
{
    /// <summary>Runs what is due now; returns how much it did.</summary>
    Task<int> RunDueAsync(CancellationToken cancellationToken);

    /// <summary>The earliest due time PostgreSQL holds for this work, or null.</summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken);
}
