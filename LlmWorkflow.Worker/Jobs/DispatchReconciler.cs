using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Re-dispatches queued jobs that Redis may have lost, and running jobs whose worker died. Queued jobs dispatched
/// longer ago than <see cref="WorkerOptions.RedispatchAfter"/> are written to their stream again; when the consumer
/// group itself is gone (Redis came back empty) every queued job is re-dispatched at once. A running job whose
/// Postgres lease lapsed gets a new entry once per lapse (the lease is the one record of who runs a job; entries are
/// acked at claim), and a worker then reclaims it with the Claim statement.
/// </summary>
internal sealed class DispatchReconciler(
    JobLifecycleStore store,
    JobQueue queue,
    IConnectionMultiplexer redis,
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
        var redispatchBefore = now - options.Value.RedispatchAfter;
        // Redis came back empty: every queued job needs its entry again, now.
        return await SendMarkedAsync(store.MarkQueuedForDispatchAsync, redisLostState ? now : redispatchBefore, cancellationToken)
            + await SendMarkedAsync(store.MarkLapsedForDispatchAsync, redispatchBefore, cancellationToken);
    }

    /// <summary>Marks jobs with <paramref name="mark"/> (Dispatch or DispatchLapsed), a batch at a time, and writes their stream entries.</summary>
    private async Task<int> SendMarkedAsync(
        Func<DateTimeOffset, int, CancellationToken, Task<IReadOnlyList<MarkedDispatch>>> mark, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var total = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var marked = await mark(cutoff, BatchSize, cancellationToken);

            // RETURNING keeps no order: within a band, oldest first.
            var dispatches = marked.OrderByDescending(m => m.Dispatch.Priority).ThenBy(m => m.WaitingSince).Select(m => m.Dispatch).ToArray();
            try
            {
                await queue.EnqueueManyAsync(dispatches, cancellationToken);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
            {
                // Not sent: a queued job loses its mark, so it goes out on the first tick after Redis is back rather
                // than RedispatchAfter later (only queued jobs lose it; a lapsed job keeps waiting).
                await store.ClearDispatchMarksAsync([.. dispatches.Select(d => d.JobId)]);
                throw;
            }

            total += marked.Count;
            if (marked.Count < BatchSize)
            {
                break;
            }
        }

        return total;
    }

    private async Task<bool> ConsumerGroupMissingAsync()
    {
        using var untraced = LlmWorkflow.Pipeline.RedisSetup.Untraced();
        foreach (var key in queue.StreamKeys)
        {
            if (!await redis.GetDatabase().KeyExistsAsync(key))
            {
                return true;
            }
        }

        return false;
    }
}
