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

    // The earliest start_by the waker's last pass read; the first pass runs (a worker starting after an outage ends
    // what expired meanwhile).
    private DateTimeOffset? _next = DateTimeOffset.MinValue;

    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        // Only once a start_by has come: the waker's passes for run_at and sleeps cost no Expire statement.
        if (_next is not { } due || due > time.GetUtcNow())
        {
            return 0;
        }

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

    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) => _next = await store.NextExpiryAsync(cancellationToken);
}
