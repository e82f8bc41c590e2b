using System.Diagnostics;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The claim of a read batch and the release of a finished run's slot: with no tenant caps, no concurrency keys and no
/// slot shares configured, the claim is the store's plain one and the release does nothing; with caps or keys, a job
/// neither touches is still claimed by the plain statement and its release does nothing.
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
    /// Claims the jobs of a batch of entries; entries whose job is absent need no run. With tenant caps, a workflow
    /// declaring <c>concurrency</c> or the slot shares configured, see <see cref="ClaimWithLimitsAsync"/>.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimAsync(IReadOnlyList<DispatchedJob> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Dispatch.JobId).Where(id => id != Guid.Empty).Distinct().ToArray();
        var traceIds = RunTraceIds(batch);
        if (!tenantCaps.Any && !slotShares.Enabled && !catalog.All.Any(w => w.Concurrency is not null))
        {
            return await store.ClaimAsync(ids, _options.Id, _options.LeaseDuration, cancellationToken, traceIds);
        }

        return await ClaimWithLimitsAsync(ids, traceIds, cancellationToken);
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

        await ResumeNextForSlotAsync(claimed, tenantCap);
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
}
