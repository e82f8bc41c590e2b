using System.Collections.Concurrent;
using LlmWorkflow.Pipeline.Jobs;
using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The jobs this worker is running, each with a token that stops it. <see cref="StopCancelledAsync"/> asks Postgres
/// in one query which of them were cancelled or deleted since, so a cancel reaches a running job within one poll
/// interval (the worker polls twice a second) without any worker-to-worker messaging. <see cref="RenewLeasesAsync"/>
/// extends all their leases in one statement (per worker, not per job).
/// </summary>
internal sealed class RunningJobs(NpgsqlDataSource dataSource, JobLifecycleStore store)
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();

    public int Count => _running.Count;

    public void Add(Guid jobId, CancellationTokenSource stop) => _running[jobId] = stop;

    public void Remove(Guid jobId) => _running.TryRemove(jobId, out _);

    /// <summary>Stops the job's run if it runs here (a cancel announced over Redis).</summary>
    public void Stop(Guid jobId)
    {
        if (_running.TryGetValue(jobId, out var stop))
        {
            stop.Cancel();
        }
    }

    /// <summary>Cancels the runs whose job has a cancel request or no longer exists; returns how many.</summary>
    public async Task<int> StopCancelledAsync(CancellationToken cancellationToken)
    {
        if (_running.IsEmpty)
        {
            return 0;
        }

        var ids = _running.Keys.ToArray();
        await using var command = dataSource.CreateCommand("""
            SELECT id FROM unnest($1::uuid[]) AS id
            EXCEPT
            SELECT id FROM llm_workflow_jobs WHERE id = ANY($1) AND cancel_requested_at IS NULL
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        var stopped = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (_running.TryGetValue(reader.GetGuid(0), out var stop))
            {
                await stop.CancelAsync();
                stopped++;
            }
        }

        return stopped;
    }

    /// <summary>
    /// Extends the lease of every running job; stops the runs of the jobs this worker no longer owns (cancelled,
    /// deleted, or reclaimed after a stall: their Finish would lose anyway). Returns how many were stopped.
    /// </summary>
    public async Task<int> RenewLeasesAsync(string workerId, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (_running.IsEmpty)
        {
            return 0;
        }

        var ids = _running.Keys.ToArray();
        var owned = await store.RenewLeasesAsync(ids, workerId, lease, cancellationToken);
        var stopped = 0;
        foreach (var id in ids)
        {
            if (!owned.Contains(id) && _running.TryGetValue(id, out var stop))
            {
                await stop.CancelAsync();
                stopped++;
            }
        }

        return stopped;
    }
}
