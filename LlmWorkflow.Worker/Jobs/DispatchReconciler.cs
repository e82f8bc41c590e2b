using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Re-dispatches queued jobs that Redis may have lost, and running jobs whose worker died. Queued jobs dispatched
/// longer ago than <see cref="WorkerOptions.RedispatchAfter"/> are written to their stream again; when the consumer
/// group itself is gone (Redis came back empty) every queued job is re-dispatched at once. A running job whose
/// Postgres lease lapsed gets a new entry once per lapse (the lease is the one record of who runs a job; entries are
/// acked at claim), and a worker then reclaims it with the Claim statement.
/// </summary>
internal sealed class DispatchReconciler(
    NpgsqlDataSource dataSource,
    JobQueue queue,
    IRedisClient redis,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<DispatchReconciler> logger)
{
    private const int BatchSize = 1_000;

    // Marks the lapsed jobs as dispatched before their entries are written, so that two reconcilers racing on one
    // lapse write one entry (SKIP LOCKED); dispatched_at older than the lease means "not yet for this lapse", and
    // RedispatchAfter covers an entry Redis lost. A job asked to stop is not run again (as the Claim statement).
    private static readonly string LapsedSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.DispatchLapsed)} AND lease_expires_at < now()
                         AND cancel_requested_at IS NULL
                         AND (dispatched_at IS NULL OR dispatched_at < lease_expires_at OR dispatched_at < $1)
                       ORDER BY priority DESC, lease_expires_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority
        """;

    // Marks queued jobs whose entry Redis may have lost (never sent, or sent longer ago than RedispatchAfter) as
    // dispatched now and returns them, in one statement; SKIP LOCKED keeps two reconcilers from sending one job twice
    // in a pass. Their entries are written next.
    private static readonly string StaleQueuedSql = $"""
        UPDATE llm_workflow_jobs SET dispatched_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.Dispatch)}
                         AND (dispatched_at IS NULL OR dispatched_at < $1)
                       ORDER BY priority DESC, queued_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, queued_at
        """;

    public async Task<int> RedispatchStaleAsync(CancellationToken cancellationToken) =>
        await RedispatchQueuedAsync(cancellationToken) + await RedispatchLapsedAsync(cancellationToken);

    /// <summary>Writes a stream entry for each running job whose lease lapsed since its last entry.</summary>
    private async Task<int> RedispatchLapsedAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var lapsed = new List<JobDispatch>();
            await using (var command = dataSource.CreateCommand(LapsedSql))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() - options.Value.RedispatchAfter });
                command.Parameters.Add(new NpgsqlParameter { Value = BatchSize });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    lapsed.Add(new JobDispatch(reader.GetGuid(0), reader.GetInt32(1)));
                }
            }

            await queue.EnqueueManyAsync(lapsed, cancellationToken);
            total += lapsed.Count;
            if (lapsed.Count < BatchSize)
            {
                break;
            }
        }

        return total;
    }

    private async Task<int> RedispatchQueuedAsync(CancellationToken cancellationToken)
    {
        var redisLostState = await ConsumerGroupMissingAsync();
        if (redisLostState)
        {
            await queue.EnsureConsumerGroupsAsync(cancellationToken);
        }

        var now = time.GetUtcNow();
        var cutoff = redisLostState ? now : now - options.Value.RedispatchAfter;
        var total = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var stale = new List<(JobDispatch Dispatch, DateTimeOffset QueuedAt)>();
            await using (var command = dataSource.CreateCommand(StaleQueuedSql))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = cutoff });
                command.Parameters.Add(new NpgsqlParameter { Value = BatchSize });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    stale.Add((new JobDispatch(reader.GetGuid(0), reader.GetInt32(1)), reader.GetFieldValue<DateTimeOffset>(2)));
                }
            }

            // RETURNING keeps no order: oldest first within a band, as the submissions were.
            var dispatches = stale.OrderByDescending(s => s.Dispatch.Priority).ThenBy(s => s.QueuedAt).Select(s => s.Dispatch).ToArray();
            try
            {
                await queue.EnqueueManyAsync(dispatches, cancellationToken);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
            {
                // Not sent: without their marks they go out on the first tick after Redis is back, not RedispatchAfter later.
                await JobDispatchMarks.ClearAsync(dataSource, [.. dispatches.Select(d => d.JobId)], logger);
                throw;
            }

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
