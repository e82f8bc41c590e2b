using System.Diagnostics;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The claim of a read batch and the release of a finished run's slot: with no tenant caps, no concurrency keys and no
/// slot shares configured, the claim is the store's plain one and the release does nothing.
/// </summary>
internal sealed partial class JobClaims(
    JobLifecycleStore store,
    JobQueue queue,
    WorkflowCatalog catalog,
    TenantConcurrency tenantCaps,
    TenantSlotShares slotShares,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<JobProcessor> logger)
{
    private readonly WorkerOptions _options = options.Value;

    /// <summary>
    /// Claims the jobs of a batch of entries in one statement; entries whose job is absent need no run. With tenant
    /// caps set, a workflow declaring <c>concurrency</c> or the tenants' slot shares on, jobs past their tenant's cap,
    /// their key's limit or their tenant's share are parked as slot waits instead (absent too).
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(IReadOnlyList<DispatchedJob> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Dispatch.JobId).Where(id => id != Guid.Empty).Distinct().ToArray();
        var traceIds = RunTraceIds(batch);
        if (!tenantCaps.Any && !slotShares.Enabled && !catalog.All.Any(w => w.Concurrency is not null))
        {
            return await store.ClaimAsync(ids, _options.Id, _options.LeaseDuration, cancellationToken, traceIds);
        }

        var (claimed, held) = await store.ClaimWithinLimitsAsync(ids, _options.Id, _options.LeaseDuration, tenantCaps, slotShares.Current,
            time.GetUtcNow() + _options.ReconcileInterval, cancellationToken, traceIds);
        if (held > 0)
        {
            TenantConcurrency.SlotWaits.Add(held, new KeyValuePair<string, object?>("at", "claim"));
        }

        return claimed;
    }

    /// <summary>
    /// The job left <c>processing</c> (finished, parked, handed back): when its tenant is capped or it has a
    /// concurrency key, the next job they held is queued at once, and with the slot shares on the next job a share held
    /// of the tenant furthest below its share. A failure here is the reconciler's backstop's to repair, within its interval.
    /// </summary>
    public async Task ReleaseSlotAsync(ClaimedJob claimed)
    {
        var tenantCap = tenantCaps.CapOf(claimed.TenantId);
        if (tenantCap is null && claimed.ConcurrencyKey is null && !slotShares.Enabled)
        {
            return;
        }

        try
        {
            var resumed = await store.ResumeForSlotAsync(claimed.TenantId, tenantCap, claimed.ConcurrencyKey, claimed.ConcurrencyLimit, slotShares.Current, CancellationToken.None);
            foreach (var job in resumed)
            {
                await queue.EnqueueAsync(job.Dispatch, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or StackExchange.Redis.RedisException or TimeoutException)
        {
            LogSlotReleaseFailed(ex, claimed.Id);
        }
    }

    /// <summary>
    /// The trace each entry's run will carry, known before the claim: its dispatch's (the run's span is its child, see
    /// <see cref="JobProcessor"/>). The claim records it as the attempt's trace.
    /// </summary>
    private static Dictionary<Guid, string> RunTraceIds(IReadOnlyList<DispatchedJob> batch)
    {
        var traces = new Dictionary<Guid, string>(batch.Count);
        foreach (var dispatched in batch)
        {
            if (RunTraceId(dispatched) is { } trace)
            {
                traces.TryAdd(dispatched.Dispatch.JobId, trace);
            }
        }

        return traces;
    }

    /// <summary>The trace id of the dispatch's traceparent, the parent of the run's span; null without one.</summary>
    public static string? RunTraceId(DispatchedJob dispatched) =>
        ActivityContext.TryParse(dispatched.Dispatch.TraceParent, dispatched.Dispatch.TraceState, out var parent) ? parent.TraceId.ToHexString() : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} freed a slot but the next job waiting for it could not be queued; the reconciler queues it within its interval")]
    private partial void LogSlotReleaseFailed(Exception ex, Guid jobId);
}
