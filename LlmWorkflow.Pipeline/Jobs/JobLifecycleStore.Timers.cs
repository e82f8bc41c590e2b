using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The transitions time drives: a scheduled job is woken when it is due (Wake), and its caller may move its time
/// (Reschedule). The due-time index is PostgreSQL's (<c>idx_workflow_jobs_due</c>, scheduled jobs only); the workers'
/// <c>DueJobWaker</c> sleeps until the earliest due time and is told of earlier ones over Redis.
/// </summary>
public sealed partial class JobLifecycleStore
{
    // Woken jobs are queued and marked dispatched in the same statement, so two wakers racing wake each job once (SKIP
    // LOCKED) and the reconciler does not send it again; queued_at becomes the time it was due, so queue-wait figures
    // measure from then.
    private static readonly string WakeSql = $"""
        UPDATE llm_workflow_jobs SET status = '{JobLifecycle.Rule(JobTransition.Wake).To.ToWire()}',
               queued_at = CASE WHEN status = '{JobStatus.Scheduled.ToWire()}' THEN run_at ELSE queued_at END,
               dispatched_at = now(), updated_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.Wake)} AND run_at <= now()
                       ORDER BY run_at
                       LIMIT $1
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, run_at AS waiting_since
        """;

    private static readonly string NextDueSql = $"SELECT min(run_at) FROM llm_workflow_jobs WHERE {JobLifecycle.Guard(JobTransition.Wake)}";

    private static readonly string RescheduleSql = $"""
        UPDATE llm_workflow_jobs SET run_at = $2, queued_at = $2, updated_at = now()
         WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Reschedule)}
        """;

    // A park gives the attempt back (the resumed run's claim takes it again): waiting is not a failed attempt, and a job
    // that sleeps often must not reach Worker:MaxAttempts. A job asked to stop is not parked (its worker finishes it
    // cancelled instead).
    private static readonly string ParkSql = $"""
        UPDATE llm_workflow_jobs
           SET status = '{JobLifecycle.Rule(JobTransition.Park).To.ToWire()}', run_at = $4, wait_data = $5::jsonb,
               lease_owner = NULL, lease_expires_at = NULL, dispatched_at = NULL, attempt = attempt - 1, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND ($3::int IS NULL OR attempt = $3) AND cancel_requested_at IS NULL
           AND {JobLifecycle.KeyedGuard(JobTransition.Park)}
        """;

    /// <summary>Park: the statement that parks a running job on <paramref name="wait"/> (written after its last step rows).</summary>
    public static WriteStatement ParkStatement(Guid jobId, string workerId, int? attempt, LlmWorkflow.Engine.Execution.RunWait wait) =>
        new(ParkSql,
        [
            new() { Value = jobId },
            new() { Value = workerId },
            new() { Value = (object?)attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer },
            new() { Value = wait.Until.ToUniversalTime() },
            new() { Value = System.Text.Json.JsonSerializer.Serialize(new { step_id = wait.StepId, step_key = wait.StepKey, kind = wait.Kind, until = wait.Until.ToUniversalTime() }) },
        ]);

    /// <summary>
    /// Wake: queues up to <paramref name="limit"/> scheduled jobs whose time has come, marked dispatched now, and returns
    /// them for their stream entries.
    /// </summary>
    public async Task<IReadOnlyList<MarkedDispatch>> WakeDueAsync(int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(WakeSql);
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var woken = new List<MarkedDispatch>();
        while (await reader.ReadAsync(cancellationToken))
        {
            woken.Add(new MarkedDispatch(new JobDispatch(reader.Field<Guid>("id"), reader.Field<int>("priority")), reader.Field<DateTimeOffset>("waiting_since")));
        }

        return woken;
    }

    /// <summary>The earliest due time of a scheduled job, or null when none is scheduled.</summary>
    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NextDueSql);
        // Npgsql reads timestamptz as a UTC DateTime.
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime due ? new DateTimeOffset(due, TimeSpan.Zero) : null;
    }

    /// <summary>Reschedule: moves a scheduled job's due time; false when the job is not scheduled (any more).</summary>
    public async Task<bool> RescheduleAsync(Guid jobId, DateTimeOffset runAt, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RescheduleSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = runAt });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
