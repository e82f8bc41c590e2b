using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The claim when tenant caps or concurrency keys are configured but the slot shares are off: the jobs no cap and no
/// key touches (another tenant's cap, a workflow without <c>concurrency</c>) are claimed by the plain claim's own
/// statement, which names the rest; only those go through the limits' locks and counts
/// (<see cref="ClaimWithinLimitsAsync"/>). A deployment that caps one tenant therefore costs the other tenants' jobs
/// no advisory locks, no running counts and no second statement.
/// </summary>
public sealed partial class JobLifecycleStore
{
    // The plain claim of the batch's jobs outside every limit, with one row per claimable job: `limited` rows (a
    // capped tenant's job, or one with a concurrency key) are left as they are for the limits' claim, the others are
    // claimed (the claimed columns null on limited rows). The limited rows are locked only for this statement.
    // $1 job ids, $2 worker id, $3 lease (interval), $4 each run's trace id, $5 capped tenant ids.
    private static readonly string ClaimOutsideLimitsSql = $"""
        WITH claimable AS (
            {ClaimableJobsSql("j.id, j.tenant_id, j.concurrency_key")}
        ), sorted AS (
            SELECT id, (COALESCE(tenant_id = ANY($5), FALSE) OR concurrency_key IS NOT NULL) AS limited FROM claimable
        ), claimed AS (
            {ClaimJobsSql("SELECT id FROM sorted WHERE NOT limited", traces: "$4")}
        )
        SELECT s.id AS candidate_id, s.limited, c.* FROM sorted s LEFT JOIN claimed c ON c.id = s.id
        """;

    /// <summary>
    /// Claims the jobs outside every cap and key limit (see the type's summary) and returns them with the ids of the
    /// claimable jobs a limit may hold, for <see cref="ClaimWithinLimitsAsync"/>.
    /// </summary>
    internal async Task<(IReadOnlyDictionary<Guid, ClaimedJob> Claimed, IReadOnlyList<Guid> Limited)> ClaimOutsideLimitsAsync(
        IReadOnlyCollection<Guid> jobIds, string workerId, TimeSpan lease, TenantConcurrency caps, CancellationToken cancellationToken,
        IReadOnlyDictionary<Guid, string>? traceIds = null)
    {
        await using var command = ClaimCommand(ClaimOutsideLimitsSql, jobIds, workerId, lease, traceIds);
        command.Parameters.Add(new NpgsqlParameter { Value = caps.Tenants });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new Dictionary<Guid, ClaimedJob>(jobIds.Count);
        var limited = new List<Guid>();
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.Field<bool>("limited"))
            {
                limited.Add(reader.Field<Guid>("candidate_id"));
            }
            else if (reader.FieldOrNull<Guid?>("id") is not null)
            {
                var job = ReadClaimed(reader);
                claimed[job.Id] = job;
            }
        }

        return (claimed, limited);
    }
}
