using LlmWorkflow.Storage.Jobs;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The claim and the slot release with tenant caps, concurrency keys or slot shares configured: a plain job never comes
/// here (the caps' and keys' module beside the plain claim, see docs/ADMISSION.md).
/// </summary>
internal sealed partial class JobClaims
{
    /// <summary>
    /// Without slot shares, the jobs no cap and no key touches are claimed by the plain statement, which names the rest;
    /// only those go through the limits' statement, which parks the ones past their tenant's cap or their key's limit as
    /// slot waits (absent from the result). With the shares on, every job is counted against its tenant's share.
    /// </summary>
    private async Task<IReadOnlyDictionary<Guid, ClaimedJob>> ClaimWithLimitsAsync(
        Guid[] ids, Dictionary<Guid, string> traceIds, CancellationToken cancellationToken)
    {
        IReadOnlyCollection<Guid> limited = ids;
        Dictionary<Guid, ClaimedJob>? outside = null;
        if (!slotShares.Enabled)
        {
            var (claimedOutside, limitedIds) = await store.ClaimOutsideLimitsAsync(ids, _options.Id, _options.LeaseDuration, tenantCaps, cancellationToken, traceIds);
            if (limitedIds.Count == 0)
            {
                return claimedOutside;
            }

            (outside, limited) = (new Dictionary<Guid, ClaimedJob>(claimedOutside), limitedIds);
        }

        var (claimed, held) = await store.ClaimWithinLimitsAsync(limited, _options.Id, _options.LeaseDuration, tenantCaps, slotShares.Current,
            time.GetUtcNow() + _options.ReconcileInterval, cancellationToken, traceIds);
        if (held > 0)
        {
            TenantConcurrency.SlotWaits.Add(held, new KeyValuePair<string, object?>("at", "claim"));
        }

        if (outside is null)
        {
            return claimed;
        }

        foreach (var (id, job) in claimed)
        {
            outside[id] = job;
        }

        return outside;
    }

    /// <summary>Queues the next job the finished one's tenant cap, key or share held (see <see cref="ReleaseSlotAsync"/>).</summary>
    private async Task ResumeNextForSlotAsync(ClaimedJob claimed, int? tenantCap)
    {
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} freed a slot but the next job waiting for it could not be queued; the reconciler queues it within its interval")]
    private partial void LogSlotReleaseFailed(Exception ex, Guid jobId);
}
