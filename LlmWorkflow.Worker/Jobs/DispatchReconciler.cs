using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Jobs;
using StackExchange.Redis;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Keeps the dispatch streams in step with PostgreSQL, which alone decides whether a job exists. Each pass: the
/// consumer group exists on every stream (when it had to be created, Redis lost its data — FLUSHALL, or a restart
/// without persistence — or no worker had run yet, and every queued job whose entry went is dispatched again at once);
/// acknowledged entries are trimmed; queued jobs dispatched longer ago than <see cref="WorkerOptions.RedispatchAfter"/>
/// are written to their stream again; a running job whose Postgres lease lapsed gets a new entry once per lapse (the
/// lease is the one record of who runs a job; entries are acked at claim), and a worker then reclaims it with the Claim
/// statement. A reader that meets a missing group (NOGROUP) calls <see cref="HealLostGroupsAsync"/> instead of waiting
/// for the next pass.
/// </summary>
internal sealed partial class DispatchReconciler(
    JobLifecycleStore store,
    JobQueue queue,
    TenantConcurrency tenantCaps,
    TenantSlotShares slotShares,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<DispatchReconciler> logger)
{
    private const int BatchSize = 1_000;

    private static readonly Counter<long> Redispatched = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.dispatch.redispatched", unit: "{job}",
        description: "Jobs whose dispatch entry was written again by the reconciler, by reason (redis_lost_state, stale, lease_lapsed, slot_freed).");

    private static readonly Histogram<double> WakeLateness = Telemetry.Meter.CreateHistogram<double>(
        "llmworkflow.jobs.wake_lateness", unit: "s",
        description: "How long after its run_at a scheduled job was queued (the time a worker then takes to start it is not included).");

    private readonly SemaphoreSlim _healing = new(1, 1);

    /// <summary>One reconciliation pass; returns the jobs dispatched again.</summary>
    public async Task<int> ReconcileAsync(CancellationToken cancellationToken)
    {
        var count = await HealLostGroupsAsync(cancellationToken);
        await queue.TrimAcknowledgedAsync();
        // The waker wakes scheduled jobs on time; this catches any whose notice was lost.
        count += await WakeDueAsync(cancellationToken);
        // A slot (of a capped tenant, of a concurrency key, of a tenant's share) freed by a worker that died before
        // queuing the next job it held, or a cap lifted, or the shares turned off.
        var slots = await SendMarkedAsync((_, limit, ct) => store.ResumeFreeSlotsAsync(tenantCaps, slotShares.Current, limit, ct), time.GetUtcNow(), cancellationToken);
        Count(slots, "slot_freed");

        var redispatchBefore = time.GetUtcNow() - options.Value.RedispatchAfter;
        var stale = await SendMarkedAsync((before, limit, ct) => store.MarkQueuedForDispatchAsync(before, [], limit, ct), redispatchBefore, cancellationToken);
        var lapsed = await SendMarkedAsync(store.MarkLapsedForDispatchAsync, redispatchBefore, cancellationToken);
        Count(stale, "stale");
        Count(lapsed, "lease_lapsed");
        return count + slots + stale + lapsed;
    }

    /// <summary>
    /// Recreates consumer groups that are gone and, when any was, dispatches again every queued job last dispatched
    /// before the recreated streams' oldest entry and not among their first entries' jobs: their entries went with
    /// Redis's data. (A job dispatched by a host whose clock runs ahead of Redis's may be missed here; the stale pass
    /// sends it after RedispatchAfter.) Concurrent callers in this process (the reader that hit NOGROUP and the
    /// periodic pass) run it one at a time; across workers a job may be sent twice, which the claim makes harmless.
    /// </summary>
    public async Task<int> HealLostGroupsAsync(CancellationToken cancellationToken)
    {
        await _healing.WaitAsync(cancellationToken);
        try
        {
            var recreated = await queue.EnsureConsumerGroupsAsync(cancellationToken);
            if (recreated.Count == 0)
            {
                return 0;
            }

            // Jobs dispatched since the streams were recreated have their entries (the group starts at the first one);
            // sending them again would only make duplicates, which also bend the bands' read order. A job's dispatch
            // time is taken just before its XADD, so the jobs of the first entries are left out by id: on a first
            // start (jobs submitted before any worker ran, the stream made by their XADDs) none is sent again.
            var now = time.GetUtcNow();
            var first = await queue.FirstEntriesAsync(recreated, BatchSize);
            var lostBefore = first.Oldest is { } oldest && oldest < now ? oldest : now;
            var count = await SendMarkedAsync(
                (before, limit, ct) => store.MarkQueuedForDispatchAsync(before, first.JobIds, limit, ct), lostBefore, cancellationToken);
            Count(count, "redis_lost_state");
            if (count > 0)
            {
                LogGroupsRecreated(string.Join(", ", recreated), count);
            }
            else
            {
                LogGroupsCreated(string.Join(", ", recreated));
            }

            return count;
        }
        finally
        {
            _healing.Release();
        }
    }

    /// <summary>Wakes every scheduled job that is due (Wake: queued and dispatched); returns how many.</summary>
    public async Task<int> WakeDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return await SendMarkedAsync(async (_, limit, ct) =>
        {
            var woken = await store.WakeDueAsync(limit, ct);
            foreach (var job in woken)
            {
                WakeLateness.Record(Math.Max(0, (now - job.WaitingSince).TotalSeconds));
            }

            return woken;
        }, now, cancellationToken);
    }

    private static void Count(int count, string reason)
    {
        if (count > 0)
        {
            Redispatched.Add(count, new KeyValuePair<string, object?>("reason", reason));
        }
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

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Redis lost the dispatch consumer group on {Streams} (its data was flushed or lost); recreated it and re-dispatched {Count} queued job(s)")]
    private partial void LogGroupsRecreated(string streams, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the dispatch consumer group on {Streams} (a first start, or Redis lost its data); no queued job needed dispatching again")]
    private partial void LogGroupsCreated(string streams);
}
