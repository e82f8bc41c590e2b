using Microsoft.Extensions.Diagnostics.HealthChecks;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Storage.Health;

/// <summary>
/// Unhealthy while a live worker reports that its reads of the dispatch streams fail (its heartbeat's
/// <c>dispatch_error</c>): jobs are accepted but not started. A worker heals a lost consumer group itself within
/// a read, so this stays unhealthy only while something it cannot heal lasts.
/// </summary>
internal sealed class DispatchHealthCheck(WorkerHeartbeats heartbeats) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (await heartbeats.TryListAsync() is not { } workers)
        {
            return WorkersHealthCheck.Unreadable;
        }

        var failing = workers.Where(w => w.DispatchError is not null).ToArray();
        return failing.Length == 0
            ? HealthCheckResult.Healthy("Workers read the dispatch streams.")
            : HealthCheckResult.Unhealthy(
                $"{failing.Length} worker(s) cannot read the dispatch streams: {failing[0].WorkerId}: {failing[0].DispatchError}",
                data: failing.ToDictionary(w => w.WorkerId, w => (object)w.DispatchError!));
    }
}
