using Microsoft.Extensions.Diagnostics.HealthChecks;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Storage.Health;

/// <summary>
/// Healthy when at least one worker heartbeat is live; degraded (still 200) when none is: the API keeps accepting
/// jobs, which wait in the queue until a worker starts.
/// </summary>
internal sealed class WorkersHealthCheck(WorkerHeartbeats heartbeats) : IHealthCheck
{
    /// <summary>
    /// The tag that also names this check <c>celery</c> in the health answers: document 001's clients read the workers
    /// (here LlmWorkflow worker processes, its Celery workers' equivalent) as <c>services.celery.workers</c>.
    /// </summary>
    public const string CeleryAlias = "alias:celery";

    /// <summary>What both heartbeat checks answer when Redis cannot be read.</summary>
    public static readonly HealthCheckResult Unreadable = HealthCheckResult.Degraded("Worker heartbeats are unreadable (redis unreachable).");

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (await heartbeats.TryListAsync() is not { } workers)
        {
            return Unreadable;
        }

        var data = new Dictionary<string, object>
        {
            ["workers"] = workers.Count,
            ["in_flight"] = workers.Sum(w => w.InFlight),
        };
        return workers.Count > 0
            ? HealthCheckResult.Healthy($"{workers.Count} worker(s)", data)
            : HealthCheckResult.Degraded("No live worker heartbeat: jobs are queued until a worker starts.", data: data);
    }
}
