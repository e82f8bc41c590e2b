using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>The schedules' tick history is kept as long as the jobs it started (<c>Maintenance:Retention</c>).</summary>
internal sealed class ScheduleTickRetention(ScheduleStore schedules) : IRetentionPurge
{
    public string DetailName => "schedule_ticks_purged";

    public Task<int> PurgeBeforeAsync(DateTimeOffset before, int batchSize, CancellationToken cancellationToken) =>
        schedules.PurgeTicksBeforeAsync(before, batchSize, cancellationToken);
}
