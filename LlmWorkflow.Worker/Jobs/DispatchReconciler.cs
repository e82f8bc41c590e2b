using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Persistence;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Re-dispatches queued jobs that Redis may have lost. Jobs dispatched longer ago than
/// <see cref="WorkerOptions.RedispatchAfter"/> are written to their stream again; when the consumer group itself is
/// gone (Redis came back empty) every queued job is re-dispatched at once.
/// </summary>
internal sealed class DispatchReconciler(
    IServiceScopeFactory scopes,
    JobQueue queue,
    IRedisClient redis,
    IOptions<WorkerOptions> options,
    TimeProvider time)
{
    private const int BatchSize = 1_000;

    public async Task<int> RedispatchStaleAsync(CancellationToken cancellationToken)
    {
        var redisLostState = await ConsumerGroupMissingAsync();
        if (redisLostState)
        {
            await queue.EnsureConsumerGroupsAsync(cancellationToken);
        }

        var now = time.GetUtcNow();
        var cutoff = redisLostState ? now : now - options.Value.RedispatchAfter;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LlmWorkflowDbContext>();
        var total = 0;
        var dispatchable = JobLifecycle.From(JobTransition.Dispatch);
        while (!cancellationToken.IsCancellationRequested)
        {
            var stale = await db.Jobs.AsNoTracking()
                .Where(j => dispatchable.Contains(j.Status) && (j.DispatchedAt == null || j.DispatchedAt < cutoff))
                .OrderByDescending(j => j.Priority).ThenBy(j => j.QueuedAt)
                .Take(BatchSize)
                .Select(j => new { j.Id, j.Priority })
                .ToListAsync(cancellationToken);
            if (stale.Count == 0)
            {
                break;
            }

            await queue.EnqueueManyAsync(stale.Select(j => new JobDispatch(j.Id, j.Priority)).ToArray(), cancellationToken);
            var ids = stale.Select(j => j.Id).ToArray();
            await db.Jobs.Where(j => ids.Contains(j.Id) && dispatchable.Contains(j.Status))
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.DispatchedAt, now), cancellationToken);
            total += stale.Count;
            if (stale.Count < BatchSize)
            {
                break;
            }
        }

        return total;
    }

    private async Task<bool> ConsumerGroupMissingAsync()
    {
        foreach (var key in queue.StreamKeys)
        {
            if (!await redis.KeyExistsAsync(key))
            {
                return true;
            }
        }

        return false;
    }
}
