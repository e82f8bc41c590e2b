using LlmWorkflow.Storage.Schedules;

namespace LlmWorkflow.Worker.Schedules;

/// <summary>
/// Ticks schedules on time (see <see cref="DueTimeLoop"/>): at the earliest <c>next_run_at</c> of an active schedule
/// it runs <see cref="ScheduleTickRunner.RunDueAsync"/>; every worker's ticker may, and the runner's row lock and tick
/// key let exactly one decide each tick. The API announces a created or changed schedule; a ticker starting after an
/// outage decides everything that fell due meanwhile by the schedules' catch-up policies. Beside the due times it
/// listens for the ends of <c>buffer_one</c> schedules' jobs (<see cref="ScheduleBufferNotices"/>): each runs a pass now,
/// which starts a buffered tick whose previous job ended.
/// </summary>
internal sealed class ScheduleTicker(
    ScheduleTickRunner runner,
    ScheduleStore store,
    ScheduleNotices notices,
    ScheduleBufferNotices bufferNotices,
    TimeProvider time,
    ILogger<ScheduleTicker> logger) : DueTimeLoop(time, logger)
{
    protected override string Work => "Ticking schedules";

    protected override Task<int> RunDueAsync(CancellationToken cancellationToken) => runner.RunDueAsync(cancellationToken);

    protected override Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) => store.EarliestNextRunAsync(cancellationToken);

    protected override Task WatchNoticesAsync(Action<DateTimeOffset> announce) => notices.WatchAsync(announce);

    // A job's end announces "due already" (the earliest time there is): the loop runs a pass at once.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(base.ExecuteAsync(stoppingToken), bufferNotices.ListenAsync(() => Announce(DateTimeOffset.MinValue), stoppingToken));
}
