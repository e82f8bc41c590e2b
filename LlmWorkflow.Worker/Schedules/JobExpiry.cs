using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Schedules;

/// <summary>
/// Ends jobs whose time-to-live (<c>ttl_seconds</c>) ran out before they started: the Expire statement runs in the
/// due-job waker's passes (every worker's may; SKIP LOCKED lets one take each job), and the earliest <c>start_by</c>
/// is one of the waker's due times, announced by the API on the same notice as a <c>run_at</c>. A plain job (no
/// <c>ttl_seconds</c>) never passes through here; the claim refuses an expired job, so a late pass only delays its webhook.
/// </summary>
internal sealed class JobExpiry(JobLifecycleStore store, TimeProvider time) : IDueTimeWork
{
    private const int BatchSize = 500;

    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var expired = await store.ExpireDueAsync(time.GetUtcNow(), BatchSize, cancellationToken);
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

    public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) => store.NextExpiryAsync(cancellationToken);
}
