using LlmWorkflow.Storage.Jobs;
using Npgsql;

namespace LlmWorkflow.Api.Jobs;

/// <summary>Bucket sizes of the job time series; each is a PostgreSQL <c>date_trunc</c> field (buckets are UTC-aligned).</summary>
public enum TimeBucket
{
    Minute,
    Hour,
    Day,
}

/// <summary>Jobs submitted and finished in one bucket; the failure rate is failed / (completed + failed), null when none finished.</summary>
public sealed record ThroughputBucket(DateTimeOffset Start, int Submitted, int Completed, int Failed, int Cancelled, double? FailureRate);

/// <summary>
/// Latency of the jobs of one workflow that finished (completed or failed) in one bucket: queue wait
/// (started_at - queued_at of the last attempt) and run time (completed_at - started_at), 50th and 95th percentiles in ms.
/// </summary>
public sealed record LatencyBucket(DateTimeOffset Start, int Jobs, double QueueWaitP50Ms, double QueueWaitP95Ms, double RunTimeP50Ms, double RunTimeP95Ms);

/// <summary>One workflow's latency buckets (only buckets in which its jobs finished).</summary>
public sealed record WorkflowLatency(string WorkflowName, IReadOnlyList<LatencyBucket> Buckets);

/// <summary>The job time series over [From, To): every bucket of throughput (zeros included), latency by workflow.</summary>
public sealed record JobTimeSeriesResult(
    DateTimeOffset From, DateTimeOffset To, string Bucket, IReadOnlyList<ThroughputBucket> Throughput, IReadOnlyList<WorkflowLatency> ByWorkflow);

/// <summary>
/// Throughput, failure rate and latency over time, aggregated by PostgreSQL from <c>llm_workflow_jobs</c> (no metrics
/// store needed: the table already holds every job's timestamps). The caller bounds the number of buckets.
/// </summary>
public sealed class JobTimeSeries(NpgsqlDataSource dataSource)
{
    /// <summary>At most this many workflows get latency series (those with the most finished jobs in the range).</summary>
    public const int MaxWorkflows = 20;

    public static TimeSpan Length(TimeBucket bucket) => bucket switch
    {
        TimeBucket.Minute => TimeSpan.FromMinutes(1),
        TimeBucket.Hour => TimeSpan.FromHours(1),
        _ => TimeSpan.FromDays(1),
    };

    /// <summary>The UTC start of the bucket holding <paramref name="instant"/> (what date_trunc(field, t, 'UTC') answers).</summary>
    public static DateTimeOffset Floor(DateTimeOffset instant, TimeBucket bucket)
    {
        var utc = instant.UtcDateTime;
        var floored = bucket switch
        {
            TimeBucket.Minute => new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, DateTimeKind.Utc),
            TimeBucket.Hour => new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, DateTimeKind.Utc),
            _ => utc.Date,
        };
        return new DateTimeOffset(floored, TimeSpan.Zero);
    }

    /// <summary>How many buckets [from, to) spans.</summary>
    public static long BucketCount(DateTimeOffset from, DateTimeOffset to, TimeBucket bucket) =>
        (long)Math.Ceiling((to - Floor(from, bucket)).Ticks / (double)Length(bucket).Ticks);

    /// <param name="tenantId">Only this tenant's jobs; null: every tenant.</param>
    /// <param name="workflowName">Only this workflow's jobs; null: all.</param>
    public async Task<JobTimeSeriesResult> BuildAsync(
        DateTimeOffset from, DateTimeOffset to, TimeBucket bucket, string? tenantId, string? workflowName, CancellationToken cancellationToken)
    {
        var field = bucket.ToString().ToLowerInvariant();
        var start = Floor(from, bucket);
        var length = Length(bucket);
        var throughput = new SortedDictionary<DateTimeOffset, int[]>();
        for (var t = start; t < to; t = t.Add(length))
        {
            throughput[t] = new int[4];
        }

        // Submitted by created_at; finished by completed_at and final status.
        const string filter = "(@tenant::text IS NULL OR tenant_id = @tenant) AND (@workflow::text IS NULL OR workflow_name = @workflow)";
        var counts =
            $"SELECT date_trunc('{field}', created_at, 'UTC') AS bucket, 'submitted' AS kind, count(*) AS jobs FROM llm_workflow_jobs " +
            $"WHERE created_at >= @from AND created_at < @to AND {filter} GROUP BY 1 " +
            $"UNION ALL SELECT date_trunc('{field}', completed_at, 'UTC'), status, count(*) FROM llm_workflow_jobs " +
            $"WHERE completed_at >= @from AND completed_at < @to AND status IN ('completed', 'failed', 'cancelled') AND {filter} GROUP BY 1, 2";
        await using (var command = Command(counts, from, to, tenantId, workflowName))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var at = new DateTimeOffset(reader.Field<DateTime>("bucket"), TimeSpan.Zero);
                var column = reader.Field<string>("kind") switch { "submitted" => 0, "completed" => 1, "failed" => 2, _ => 3 };
                if (throughput.TryGetValue(at, out var row))
                {
                    row[column] += (int)reader.Field<long>("jobs");
                }
            }
        }

        var latency =
            $"WITH finished AS (SELECT workflow_name, date_trunc('{field}', completed_at, 'UTC') AS t, " +
            "(extract(epoch FROM started_at - queued_at) * 1000)::float8 AS wait_ms, (extract(epoch FROM completed_at - started_at) * 1000)::float8 AS run_ms " +
            "FROM llm_workflow_jobs WHERE completed_at >= @from AND completed_at < @to AND status IN ('completed', 'failed') " +
            $"AND started_at IS NOT NULL AND {filter}), " +
            $"top AS (SELECT workflow_name FROM finished GROUP BY 1 ORDER BY count(*) DESC, workflow_name LIMIT {MaxWorkflows}) " +
            "SELECT workflow_name, t, count(*) AS jobs, " +
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(wait_ms, 0)) AS wait_p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY greatest(wait_ms, 0)) AS wait_p95, " +
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(run_ms, 0)) AS run_p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY greatest(run_ms, 0)) AS run_p95 " +
            "FROM finished WHERE workflow_name IN (SELECT workflow_name FROM top) GROUP BY 1, 2 ORDER BY 1, 2";
        var byWorkflow = new SortedDictionary<string, List<LatencyBucket>>(StringComparer.Ordinal);
        await using (var command = Command(latency, from, to, tenantId, workflowName))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var workflow = reader.Field<string>("workflow_name");
                var list = byWorkflow.TryGetValue(workflow, out var existing) ? existing : byWorkflow[workflow] = [];
                list.Add(ReadLatency(reader));
            }
        }

        return new JobTimeSeriesResult(
            from, to, field,
            throughput.Select(p => new ThroughputBucket(p.Key, p.Value[0], p.Value[1], p.Value[2], p.Value[3],
                p.Value[1] + p.Value[2] == 0 ? null : Math.Round((double)p.Value[2] / (p.Value[1] + p.Value[2]), 4))).ToArray(),
            byWorkflow.Select(p => new WorkflowLatency(p.Key, p.Value)).ToArray());
    }

    private static LatencyBucket ReadLatency(NpgsqlDataReader reader) => new(
        new DateTimeOffset(reader.Field<DateTime>("t"), TimeSpan.Zero), (int)reader.Field<long>("jobs"),
        Math.Round(reader.Field<double>("wait_p50"), 1), Math.Round(reader.Field<double>("wait_p95"), 1),
        Math.Round(reader.Field<double>("run_p50"), 1), Math.Round(reader.Field<double>("run_p95"), 1));

    private NpgsqlCommand Command(string sql, DateTimeOffset from, DateTimeOffset to, string? tenantId, string? workflowName)
    {
        var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("from", from.ToUniversalTime());
        command.Parameters.AddWithValue("to", to.ToUniversalTime());
        command.Parameters.Add(new NpgsqlParameter("tenant", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)tenantId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("workflow", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)workflowName ?? DBNull.Value });
        return command;
    }
}
