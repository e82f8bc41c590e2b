using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using LlmWorkflow.Pipeline.Jobs;
using StackExchange.Redis;
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
    IConnectionMultiplexer redis,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<DispatchReconciler> logger)
{
    private const int BatchSize = 1_000;

    // Both statements mark the jobs they return as dispatched now, before their entries are written, so that two
    // reconcilers racing write one entry per job (SKIP LOCKED); each returns the column its band is ordered by.

    // Running jobs whose lease lapsed: dispatched_at older than the lease means "not yet for this lapse", and
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
        RETURNING id, priority, lease_expires_at
        """;

    // Queued jobs whose entry Redis may have lost: never sent, or sent longer ago than the cutoff.
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
        return await SendMarkedAsync(StaleQueuedSql, redisLostState ? now : redispatchBefore, cancellationToken)
            + await SendMarkedAsync(LapsedSql, redispatchBefore, cancellationToken);
    }

    /// <summary>Marks and returns the jobs of <paramref name="sql"/>, a batch at a time, and writes their stream entries.</summary>
    private async Task<int> SendMarkedAsync(string sql, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var total = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var marked = new List<(JobDispatch Dispatch, DateTimeOffset Since)>();
            await using (var command = dataSource.CreateCommand(sql))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = cutoff });
                command.Parameters.Add(new NpgsqlParameter { Value = BatchSize });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    marked.Add((new JobDispatch(reader.GetGuid(0), reader.GetInt32(1)), reader.GetFieldValue<DateTimeOffset>(2)));
                }
            }

            // RETURNING keeps no order: within a band, oldest first.
            var dispatches = marked.OrderByDescending(m => m.Dispatch.Priority).ThenBy(m => m.Since).Select(m => m.Dispatch).ToArray();
            try
            {
                await queue.EnqueueManyAsync(dispatches, cancellationToken);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
            {
                // Not sent: a queued job loses its mark, so it goes out on the first tick after Redis is back rather
                // than RedispatchAfter later (JobDispatchMarks clears queued jobs only; a lapsed job keeps waiting).
                await JobDispatchMarks.ClearAsync(dataSource, [.. dispatches.Select(d => d.JobId)], logger);
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
