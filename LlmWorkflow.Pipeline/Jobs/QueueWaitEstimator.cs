using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using LlmWorkflow.Pipeline.Persistence;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Rough <c>estimated_wait_seconds</c> for a new job: queued jobs at or above its band times the recent average
/// run time, spread over the job slots of the live workers (their heartbeats). Refreshed at most every few seconds,
/// so submission stays one INSERT + one XADD on the hot path.
/// </summary>
public sealed class QueueWaitEstimator(IServiceScopeFactory scopes, WorkerHeartbeats heartbeats, TimeProvider time)
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Snapshot _snapshot = new(DateTimeOffset.MinValue, new Dictionary<PriorityBand, int>(), 1.0, 1);

    public async Task<int> EstimateSecondsAsync(int priority, CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (time.GetUtcNow() - snapshot.TakenAt > RefreshInterval && await _refresh.WaitAsync(0, cancellationToken))
        {
            try
            {
                snapshot = _snapshot = await TakeAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // An estimate is advisory: never fail a submission because statistics could not be read.
                _snapshot = snapshot with { TakenAt = time.GetUtcNow() };
            }
            finally
            {
                _refresh.Release();
            }
        }

        var band = PriorityBands.ForPriority(priority);
        var ahead = PriorityBands.ReadOrder.TakeWhile(b => b != band).Append(band).Sum(b => snapshot.QueuedByBand.GetValueOrDefault(b));
        var slots = Math.Max(1, snapshot.Capacity);
        return (int)Math.Ceiling(ahead * snapshot.AverageRunSeconds / slots);
    }

    private async Task<Snapshot> TakeAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LlmWorkflowDbContext>();
        var queued = await db.Jobs.Where(j => j.Status == JobStatus.Queued)
            .GroupBy(j => j.Priority).Select(g => new { Priority = g.Key, Count = g.Count() })
            .ToListAsync(cancellationToken);
        var byBand = queued.GroupBy(q => PriorityBands.ForPriority(q.Priority)).ToDictionary(g => g.Key, g => g.Sum(q => q.Count));
        var recent = await db.Jobs.Where(j => j.Status == JobStatus.Completed && j.DurationMs != null)
            .OrderByDescending(j => j.CompletedAt).Take(100).Select(j => j.DurationMs!.Value)
            .ToListAsync(cancellationToken);
        var average = recent.Count == 0 ? 1.0 : recent.Average() / 1000.0;
        // With no live worker, estimate as if one default worker were about to start.
        var slots = (await heartbeats.ListAsync()).Sum(w => w.MaxConcurrentJobs);
        return new Snapshot(time.GetUtcNow(), byBand, average, slots > 0 ? slots : new WorkerOptions().MaxConcurrentJobs);
    }

    private sealed record Snapshot(DateTimeOffset TakenAt, IReadOnlyDictionary<PriorityBand, int> QueuedByBand, double AverageRunSeconds, int Capacity);
}
