using LlmWorkflow.Engine.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Housekeeping the admin API (and operators) trigger: marking stuck jobs stale and failing them, and deleting
/// finished jobs past their retention.
/// </summary>
public sealed class JobMaintenance(LlmWorkflowDbContext db, TimeProvider time)
{
    /// <summary>
    /// Fails jobs stuck in processing longer than <paramref name="processingThreshold"/> with an expired lease, and
    /// pending/queued jobs older than <paramref name="waitingThreshold"/> (72 h by default, as the documents say).
    /// </summary>
    public async Task<int> CleanupStaleAsync(TimeSpan processingThreshold, TimeSpan waitingThreshold, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var processingCutoff = now - processingThreshold;
        var waitingCutoff = now - waitingThreshold;
        var stuck = await db.Jobs
            .Where(j => j.Status == JobStatus.Processing && j.StartedAt < processingCutoff && (j.LeaseExpiresAt == null || j.LeaseExpiresAt < now))
            .ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Failed)
                .SetProperty(j => j.IsStale, true)
                .SetProperty(j => j.StaleReason, "processing_timeout")
                .SetProperty(j => j.ErrorMessage, "The job stopped making progress (no live worker held it) and was marked stale.")
                .SetProperty(j => j.CompletedAt, now)
                .SetProperty(j => j.LeaseOwner, (string?)null)
                .SetProperty(j => j.UpdatedAt, now), cancellationToken);
        var waiting = await db.Jobs
            .Where(j => (j.Status == JobStatus.Pending || j.Status == JobStatus.Queued) && j.CreatedAt < waitingCutoff)
            .ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Failed)
                .SetProperty(j => j.IsStale, true)
                .SetProperty(j => j.StaleReason, "never_started")
                .SetProperty(j => j.ErrorMessage, "The job waited too long without starting and was marked stale.")
                .SetProperty(j => j.CompletedAt, now)
                .SetProperty(j => j.UpdatedAt, now), cancellationToken);
        return stuck + waiting;
    }

    /// <summary>Deletes completed, failed and cancelled jobs older than <paramref name="olderThan"/> (with their rows).</summary>
    public Task<int> DeleteFinishedAsync(TimeSpan olderThan, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - olderThan;
        return db.Jobs
            .Where(j => (j.Status == JobStatus.Completed || j.Status == JobStatus.Failed || j.Status == JobStatus.Cancelled) && j.CreatedAt < cutoff)
            .ExecuteDeleteAsync(cancellationToken);
    }
}
