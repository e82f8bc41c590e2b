using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Wakes scheduled and sleeping jobs on time (see <see cref="DueTimeLoop"/>): at the earliest due time it runs the
/// Wake statement through <see cref="DispatchReconciler.WakeDueAsync"/> (every worker's waker may; SKIP LOCKED lets
/// one take each job). The API announces a new or rescheduled job's time; the reconciler's pass also wakes anything
/// due, so a lost notice costs seconds, never a job.
/// </summary>
internal sealed class DueJobWaker(
    DispatchReconciler reconciler,
    JobLifecycleStore store,
    JobQueue queue,
    TimeProvider time,
    ILogger<DueJobWaker> logger) : DueTimeLoop(time, logger)
{
    protected override string Work => "Waking due jobs";

    protected override Task<int> RunDueAsync(CancellationToken cancellationToken) => reconciler.WakeDueAsync(cancellationToken);

    protected override Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) => store.NextDueAsync(cancellationToken);

    protected override Task WatchNoticesAsync(Action<DateTimeOffset> announce) => queue.WatchDueAsync(announce);
}
