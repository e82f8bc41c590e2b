using System.Collections.Concurrent;
using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// The jobs this worker is running, each with a token that stops it. <see cref="StopCancelledAsync"/> asks Postgres
/// in one query which of them were cancelled or deleted since, so a cancel reaches a running job within one poll
/// interval (the worker polls twice a second) without any worker-to-worker messaging.
/// </summary>
internal sealed class RunningJobs(NpgsqlDataSource dataSource)
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();

    public int Count => _running.Count;

    public void Add(Guid jobId, CancellationTokenSource stop) => _running[jobId] = stop;

    public void Remove(Guid jobId) => _running.TryRemove(jobId, out _);

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
}
