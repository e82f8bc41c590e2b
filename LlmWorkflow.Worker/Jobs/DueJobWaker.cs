using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Wakes scheduled and sleeping jobs on time (see <see cref="DueTimeLoop"/>): at the earliest due time it runs the
/// Wake statement through <see cref="DispatchReconciler.WakeDueAsync"/> (every worker's waker may; SKIP LOCKED lets
/// one take each job), and the due work modules add (<see cref="IDueTimeWork"/>). The API announces a new or
/// rescheduled job's time; the reconciler's pass also wakes anything due, so a lost notice costs seconds, never a job.
/// </summary>
internal sealed class DueJobWaker(
    DispatchReconciler reconciler,
    JobLifecycleStore store,
    JobQueue queue,
    IEnumerable<IDueTimeWork> moduleWork,
    TimeProvider time,
    ILogger<DueJobWaker> logger) : DueTimeLoop(time, logger)
{
    private readonly IDueTimeWork[] _moduleWork = [.. moduleWork];

    protected override string Work => "Waking due jobs";

    protected override async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var done = await reconciler.WakeDueAsync(cancellationToken);
        foreach (var work in _moduleWork)
        {
            done += await work.RunDueAsync(cancellationToken);
        }

        return done;
    }

    protected override async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        var next = await store.NextDueAsync(cancellationToken);
        foreach (var work in _moduleWork)
        {
            if (await work.NextDueAsync(cancellationToken) is { } due && (next is null || due < next))
            {
                next = due;
            }
        }

        return next;
    }

    protected override Task WatchNoticesAsync(Action<DateTimeOffset> announce) => queue.WatchDueAsync(announce);
}
