using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// Rough <c>estimated_wait_seconds</c> for a new job: queued jobs at or above its band times the recent average
/// run time, spread over the job slots of the live workers (their heartbeats). Refreshed at most every few seconds,
/// so submission stays one INSERT + one XADD on the hot path.
/// </summary>
public sealed class QueueWaitEstimator(NpgsqlDataSource dataSource, WorkerHeartbeats heartbeats, TimeProvider time)
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HeartbeatReadTimeout = TimeSpan.FromMilliseconds(250);

    // No parameters.
    private static readonly string QueuedSql =
        $"SELECT priority, count(*) AS jobs FROM llm_workflow_jobs WHERE status = '{JobStatus.Queued.ToWire()}' GROUP BY priority";

    /// <summary>
    /// The average run time of the 100 most recently submitted completed jobs. Ordered by <c>created_at</c>, which an
    /// index serves (a backward scan that stops after 100 rows): ordered by <c>completed_at</c>, which none does, it
    /// sorted every completed job — at 10 M jobs a parallel scan of the table every few seconds, on the submit path.
    /// </summary>
    private static readonly string RecentRunSql = $"""
        SELECT avg(duration_ms)::float8 AS average_ms FROM (
            SELECT duration_ms FROM llm_workflow_jobs
             WHERE status = '{JobStatus.Completed.ToWire()}' AND duration_ms IS NOT NULL
             ORDER BY created_at DESC LIMIT 100) recent
        """;

    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Snapshot _snapshot = new(DateTimeOffset.MinValue, QueuedAhead(new Dictionary<PriorityBand, int>()), 1.0, 1);

    public async Task<int> EstimateSecondsAsync(int priority, CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (time.GetUtcNow() - snapshot.TakenAt > RefreshInterval && await _refresh.WaitAsync(0, cancellationToken))
        {
            try
            {
                snapshot = _snapshot = await TakeAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // An estimate is advisory: never fail a submission because statistics could not be read.
                _snapshot = snapshot with { TakenAt = time.GetUtcNow() };
            }
            finally
            {
                _refresh.Release();
            }
        }

        var ahead = snapshot.QueuedAhead[(int)PriorityBands.ForPriority(priority)];
        var slots = Math.Max(1, snapshot.Capacity);
        return (int)Math.Ceiling(ahead * snapshot.AverageRunSeconds / slots);
    }

    /// <summary>Per band (indexed by <see cref="PriorityBand"/>): the queued jobs workers read before or with it.</summary>
    private static int[] QueuedAhead(IReadOnlyDictionary<PriorityBand, int> queuedByBand)
    {
        var ahead = new int[PriorityBands.ReadOrder.Count];
        var sum = 0;
        foreach (var band in PriorityBands.ReadOrder)
        {
            sum += queuedByBand.GetValueOrDefault(band);
            ahead[(int)band] = sum;
        }

        return ahead;
    }

    private async Task<Snapshot> TakeAsync(CancellationToken cancellationToken)
    {
        // Plain SQL, one round trip: the first submission of a fresh process runs this, and EF Core would first have
        // to compile (and the runtime to JIT) its query pipeline for two queries used nowhere else.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(QueuedSql));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(RecentRunSql));
        var byBand = new Dictionary<PriorityBand, int>();
        double? averageMs;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var band = PriorityBands.ForPriority(reader.Field<int>("priority"));
                byBand[band] = byBand.GetValueOrDefault(band) + (int)reader.Field<long>("jobs");
            }

            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            averageMs = reader.FieldOrNull<double?>("average_ms");
        }

        // With no live worker, estimate as if one default worker were about to start. A stalled Redis must not hold the
        // submission that refreshes the estimate: past a short wait the last known capacity stands.
        int slots;
        try
        {
            slots = (await heartbeats.ListAsync().WaitAsync(HeartbeatReadTimeout, cancellationToken)).Sum(w => w.MaxConcurrentJobs);
        }
        catch (Exception ex) when (ex is TimeoutException or StackExchange.Redis.RedisException)
        {
            slots = _snapshot.Capacity;
        }

        return new Snapshot(time.GetUtcNow(), QueuedAhead(byBand), averageMs is { } ms ? ms / 1000.0 : 1.0,
            slots > 0 ? slots : new WorkerOptions().MaxConcurrentJobs);
    }

    private sealed record Snapshot(DateTimeOffset TakenAt, int[] QueuedAhead, double AverageRunSeconds, int Capacity);
}
