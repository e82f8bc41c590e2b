using System.Data.Common;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The reconciler's statements, which a job dispatched once and run once never meets: the marks of queued jobs whose
/// stream entry Redis may have lost and of running jobs whose lease lapsed, and the mark cleared after a failed XADD.
/// </summary>
public sealed partial class JobLifecycleStore
{
    // Both dispatch statements mark the jobs they return as dispatched now, before their entries are written, so that
    // two reconcilers racing write one entry per job (SKIP LOCKED); each returns the column its band is ordered by.

    // Running jobs whose lease lapsed: dispatched_at older than the lease means "not yet for this lapse", and the
    // cutoff covers an entry Redis lost. A job asked to stop is not run again (as the Claim statement).
    // $1 sent before (an entry sent earlier may be lost), $2 limit.
    private static readonly string DispatchLapsedSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.DispatchLapsed)} AND lease_expires_at < now()
                         AND cancel_requested_at IS NULL
                         AND (dispatched_at IS NULL OR dispatched_at < lease_expires_at OR dispatched_at < $1)
                       ORDER BY priority DESC, lease_expires_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, lease_expires_at AS waiting_since
        """;

    // Queued jobs whose entry Redis may have lost: never sent, or sent longer ago than the cutoff, and not among the
    // jobs known to have their entry.
    // $1 sent before, $2 limit, $3 job ids that have their entry.
    private static readonly string DispatchSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.Dispatch)}
                         AND (dispatched_at IS NULL OR dispatched_at < $1) AND id <> ALL($3)
                       ORDER BY priority DESC, queued_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, queued_at AS waiting_since
        """;

    // Only a queued job loses its mark: a lapsed running job keeps waiting for its next lapse or the cutoff.
    // $1 job ids.
    private static readonly string ClearDispatchMarksSql =
        $"UPDATE llm_workflow_jobs SET dispatched_at = NULL WHERE id = ANY($1) AND {JobLifecycle.KeyedGuard(JobTransition.Dispatch)}";

    /// <summary>
    /// Dispatch: marks up to <paramref name="limit"/> queued jobs whose entry Redis may have lost (never sent, or sent
    /// before <paramref name="sentBefore"/>) as dispatched now, and returns them for their stream entries. The jobs of
    /// <paramref name="withEntry"/> are known to have theirs and are left alone.
    /// </summary>
    public Task<IReadOnlyList<MarkedDispatch>> MarkQueuedForDispatchAsync(
        DateTimeOffset sentBefore, IReadOnlyCollection<Guid> withEntry, int limit, CancellationToken cancellationToken) =>
        MarkForDispatchAsync(DispatchSql, sentBefore, limit, cancellationToken, [.. withEntry]);

    /// <summary>
    /// DispatchLapsed: marks up to <paramref name="limit"/> running jobs whose lease lapsed (once per lapse, or again
    /// when their entry was sent before <paramref name="sentBefore"/>) as dispatched now, and returns them.
    /// </summary>
    public Task<IReadOnlyList<MarkedDispatch>> MarkLapsedForDispatchAsync(DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken) =>
        MarkForDispatchAsync(DispatchLapsedSql, sentBefore, limit, cancellationToken);

    private async Task<IReadOnlyList<MarkedDispatch>> MarkForDispatchAsync(
        string sql, DateTimeOffset sentBefore, int limit, CancellationToken cancellationToken, Guid[]? withEntry = null)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = sentBefore });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        if (withEntry is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = withEntry });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var marked = new List<MarkedDispatch>();
        while (await reader.ReadAsync(cancellationToken))
        {
            marked.Add(new MarkedDispatch(
                new JobDispatch(reader.Field<Guid>("id"), reader.Field<int>("priority")), reader.Field<DateTimeOffset>("waiting_since")));
        }

        return marked;
    }

    /// <summary>
    /// Clears the <c>dispatched_at</c> mark of queued jobs whose XADD failed (Redis down): with the mark they would wait
    /// <see cref="WorkerOptions.RedispatchAfter"/> for the reconciler; without it they go out on its first tick after
    /// Redis is back. A failure is logged, not thrown: the periodic redispatch still sends them, later.
    /// </summary>
    public async Task ClearDispatchMarksAsync(IReadOnlyCollection<Guid> jobIds)
    {
        if (jobIds.Count == 0)
        {
            return;
        }

        try
        {
            await using var command = dataSource.CreateCommand(ClearDispatchMarksSql);
            command.Parameters.Add(new NpgsqlParameter { Value = jobIds.ToArray() });
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            logger.LogWarning(ex, "Could not clear the dispatch mark of {Count} job(s)", jobIds.Count);
        }
    }
}
