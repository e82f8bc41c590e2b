using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Schedules;

/// <summary>
/// Ends jobs whose time-to-live ran out before they started (see <see cref="DueTimeLoop"/>): at the earliest
/// <c>start_by</c> PostgreSQL holds it runs the Expire statement (every worker's expirer may; SKIP LOCKED lets one
/// take each job). The API announces a new job's <c>start_by</c>; a plain job (no <c>ttl_seconds</c>) never passes
/// through here. The claim skips an expired job, so a late sweep only delays its webhook, never lets it run.
/// </summary>
internal sealed class JobExpirer(
    JobLifecycleStore store,
    JobQueue queue,
    TimeProvider time,
    ILogger<JobExpirer> logger) : DueTimeLoop(time, logger)
{
    private const int BatchSize = 500;

    private readonly TimeProvider _time = time;

    protected override string Work => "Expiring jobs not started in time";

    protected override async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var expired = await store.ExpireDueAsync(_time.GetUtcNow(), BatchSize, cancellationToken);
            foreach (var job in expired)
            {
                Telemetry.JobsFinished.Add(1, new KeyValuePair<string, object?>("workflow", job.WorkflowName), new KeyValuePair<string, object?>("status", "failed"));
            }

            total += expired.Count;
            if (expired.Count < BatchSize)
            {
                return total;
            }
        }
    }

    protected override Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) => store.NextExpiryAsync(cancellationToken);

    protected override Task WatchNoticesAsync(Action<DateTimeOffset> announce) => queue.WatchExpiryAsync(announce);
}
