using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// The transitions time drives: a scheduled job is woken when it is due (Wake), and its caller may move its time
/// (Reschedule). The due-time index is PostgreSQL's (<c>idx_workflow_jobs_due</c>, scheduled jobs only); the workers'
/// <c>DueJobWaker</c> sleeps until the earliest due time and is told of earlier ones over Redis.
/// </summary>
public sealed partial class JobLifecycleStore
{
    // A paused workflow's jobs are held (JobLifecycleStore.Pauses.cs): the waker neither wakes them nor waits for them.
    private const string NotPaused = "NOT EXISTS (SELECT 1 FROM llm_workflow_pauses p WHERE p.workflow_name = llm_workflow_jobs.workflow_name)";

    // Woken jobs are queued and marked dispatched in the same statement, so two wakers racing wake each job once (SKIP
    // LOCKED) and the reconciler does not send it again; queued_at becomes the time it was due, so queue-wait figures
    // measure from then.
    // $1 limit.
    private static readonly string WakeSql = $"""
        UPDATE llm_workflow_jobs SET status = '{JobLifecycle.Rule(JobTransition.Wake).To.ToWire()}',
               queued_at = CASE WHEN status = '{JobStatus.Scheduled.ToWire()}' THEN run_at ELSE queued_at END,
               dispatched_at = now(), updated_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE {JobLifecycle.Guard(JobTransition.Wake)} AND run_at <= now() AND {NotPaused}
                       ORDER BY run_at
                       LIMIT $1
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, priority, run_at AS waiting_since, trace_id
        """;

    // No parameters.
    private static readonly string NextDueSql = $"SELECT min(run_at) AS next_due FROM llm_workflow_jobs WHERE {JobLifecycle.Guard(JobTransition.Wake)} AND {NotPaused}";

    // The due-time index holds exactly the scheduled and waiting jobs, so the count reads no other row.
    // No parameters.
    private const string CountParkedSql = """
        SELECT count(*) FILTER (WHERE status = 'scheduled') AS scheduled, count(*) FILTER (WHERE status = 'waiting') AS waiting
          FROM llm_workflow_jobs WHERE status IN ('scheduled', 'waiting')
        """;

    // $1 job id, $2 run at.
    private static readonly string RescheduleSql = $"""
        UPDATE llm_workflow_jobs SET run_at = $2, queued_at = $2, updated_at = now()
         WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Reschedule)}
        """;

    // A park gives the attempt back (the resumed run's claim takes it again): waiting is not a failed attempt, and a job
    // that sleeps often must not reach Worker:MaxAttempts. A job asked to stop is not parked (its worker finishes it
    // cancelled instead).
    // $1 job id, $2 worker id, $3 the attempt claimed (NULL: any), $4 due at, $5 the wait (jsonb).
    private static readonly string ParkSql = $"""
        UPDATE llm_workflow_jobs
           SET status = '{JobLifecycle.Rule(JobTransition.Park).To.ToWire()}', run_at = $4, wait_data = $5::jsonb,
               lease_owner = NULL, lease_expires_at = NULL, dispatched_at = NULL, attempt = attempt - 1, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND ($3::int IS NULL OR attempt = $3) AND cancel_requested_at IS NULL
           AND {JobLifecycle.KeyedGuard(JobTransition.Park)}
        """;

    /// <summary>Park: the statement that parks a running job on <paramref name="wait"/> (written after its last step rows).</summary>
    internal static WriteStatement ParkStatement(Guid jobId, string workerId, int? attempt, LlmWorkflow.Engine.Execution.RunWait wait) =>
        new(ParkSql,
        [
            new() { Value = jobId },
            new() { Value = workerId },
            new() { Value = (object?)attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer },
            new() { Value = wait.Until.ToUniversalTime() },
            new() { Value = System.Text.Json.JsonSerializer.Serialize(WaitData(wait)) },
        ]);

    // pending and events: the waits of the blocks of a parallel or for_each that parked together (RunWait.Pending).
    private static object WaitData(LlmWorkflow.Engine.Execution.RunWait wait) => new
    {
        step_id = wait.StepId, step_key = wait.StepKey, kind = wait.Kind, until = wait.Until.ToUniversalTime(), @event = wait.Event, approval = wait.Approval,
        budget = wait.Budget, batch = wait.Batch, pending = wait.Pending?.Select(WaitData), events = wait.Pending is null ? null : wait.Events,
    };

    // Both the signal's request and the worker that just parked the job try this (one of them sees the other's
    // commit), so a signal sent while the run was on its way to the wait is never left unanswered; the guard lets one win.
    // run_at becomes the time the wait ended, as a woken sleep's is (the stale cleanup measures a queued job from it).
    // Parked on several blocks' waits, an untaken signal of any of their events resumes it (the worker asks with the shown one's).
    // $1 job id, $2 event.
    private static readonly string ResumeSql = $"""
        UPDATE llm_workflow_jobs SET status = '{JobLifecycle.Rule(JobTransition.Resume).To.ToWire()}', run_at = now(), dispatched_at = now(), updated_at = now()
         WHERE id = $1 AND {JobLifecycle.KeyedGuard(JobTransition.Resume)}
           AND (wait_data->>'kind' IN ('event', 'approval') AND wait_data->>'event' = $2
                AND EXISTS (SELECT 1 FROM llm_job_signals s WHERE s.job_id = $1 AND s.event = $2 AND s.taken_by_step IS NULL)
                OR EXISTS (SELECT 1 FROM llm_job_signals s WHERE s.job_id = $1 AND s.taken_by_step IS NULL AND wait_data->'events' @> jsonb_build_array(s.event)))
        RETURNING id, priority
        """;

    // The signal and the resume it causes commit together: a request cut off between them (the API killed) must not leave
    // the signal in the inbox with its job still waiting. A repeated key adds nothing but still resumes a job that waits
    // for the event while an untaken signal of it is in the inbox (it cannot resume twice: the first resume took the wait).
    // $1 signal id, $2 job id, $3 event, $4 payload (jsonb), $5 idempotency key.
    private static readonly string AddSignalSql = $"""
        WITH added AS (
            INSERT INTO llm_job_signals (id, job_id, event, payload, idempotency_key, received_at)
            VALUES ($1, $2, $3, $4::jsonb, $5, now())
            ON CONFLICT (job_id, event, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id, received_at
        ), resumed AS (
            UPDATE llm_workflow_jobs SET status = '{JobLifecycle.Rule(JobTransition.Resume).To.ToWire()}', run_at = now(), dispatched_at = now(), updated_at = now()
             WHERE id = $2 AND {JobLifecycle.KeyedGuard(JobTransition.Resume)} AND (wait_data->>'kind' IN ('event', 'approval') AND wait_data->>'event' = $3 OR wait_data->'events' @> jsonb_build_array($3::text))
               AND (EXISTS (SELECT 1 FROM added)
                    OR EXISTS (SELECT 1 FROM llm_job_signals s WHERE s.job_id = $2 AND s.event = $3 AND s.taken_by_step IS NULL))
            RETURNING priority
        )
        SELECT (SELECT id FROM added) AS id, (SELECT received_at FROM added) AS received_at, (SELECT priority FROM resumed) AS priority
        """;

    // Whether the body is the first one's is compared as JSON (key order and spacing aside).
    // $1 job id, $2 event, $3 idempotency key, $4 this request's payload (jsonb text; NULL for none).
    private const string FindSignalSql = """
        SELECT id, received_at, payload IS NOT DISTINCT FROM $4::jsonb AS same_body
          FROM llm_job_signals WHERE job_id = $1 AND event = $2 AND idempotency_key = $3
        """;

    // The step's own signal first (its run resumed after a crash between taking and checkpointing it), else the oldest
    // untaken one of the event, taken for the step. A signal a rerun superseded is neither (JobLifecycleStore.Commands.cs).
    // $1 job id, $2 event, $3 step key.
    private const string TakeSignalSql = """
        WITH mine AS (
            SELECT payload FROM llm_job_signals WHERE job_id = $1 AND taken_by_step = $3 AND superseded_at IS NULL LIMIT 1
        ), next AS (
            SELECT id FROM llm_job_signals
             WHERE job_id = $1 AND event = $2 AND taken_by_step IS NULL AND NOT EXISTS (SELECT 1 FROM mine)
             ORDER BY received_at, id LIMIT 1
             FOR UPDATE SKIP LOCKED
        ), taken AS (
            UPDATE llm_job_signals s SET taken_by_step = $3, taken_at = now() FROM next WHERE s.id = next.id RETURNING s.payload
        )
        SELECT payload::text AS payload FROM mine UNION ALL SELECT payload::text FROM taken
        """;

    // $1 job id.
    private const string ListSignalsSql = """
        SELECT id, event, received_at, idempotency_key, taken_by_step, taken_at, superseded_at FROM llm_job_signals
         WHERE job_id = $1 ORDER BY received_at, id
        """;

    /// <summary>
    /// Puts a signal in the job's inbox and, in the same statement, resumes the job when it waits for that event (the
    /// returned dispatch: queue it). With an <paramref name="idempotencyKey"/> seen before for that event, nothing is added
    /// and the first signal is returned (<see cref="AddedSignal.Duplicate"/>; <see cref="AddedSignal.OtherBody"/> when its body differs).
    /// </summary>
    public async Task<(AddedSignal Added, JobDispatch? Resumed)> AddSignalAsync(
        Guid jobId, string eventName, string? payloadJson, string? idempotencyKey, CancellationToken cancellationToken)
    {
        JobDispatch? resumed;
        await using (var insert = dataSource.CreateCommand(AddSignalSql))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new NpgsqlParameter { Value = jobId });
            insert.Parameters.Add(new NpgsqlParameter { Value = eventName });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)payloadJson ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)idempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            resumed = reader.FieldOrNull<int?>("priority") is { } priority ? new JobDispatch(jobId, priority) : null;
            if (reader.FieldOrNull<Guid?>("id") is { } id)
            {
                return (new AddedSignal(id, reader.Field<DateTimeOffset>("received_at"), Duplicate: false), resumed);
            }
        }

        var first = await FindSignalAsync(jobId, eventName, idempotencyKey!, payloadJson, cancellationToken)
                    ?? throw new InvalidOperationException($"The signal with key {idempotencyKey} conflicted on insert but is not in job {jobId}'s inbox.");
        return (first, resumed);
    }

    /// <summary>
    /// The signal first sent with <paramref name="idempotencyKey"/> for that job and event, and whether its body differs
    /// from <paramref name="payloadJson"/>; null when there is none.
    /// </summary>
    public async Task<AddedSignal?> FindSignalAsync(Guid jobId, string eventName, string idempotencyKey, string? payloadJson, CancellationToken cancellationToken)
    {
        await using var find = dataSource.CreateCommand(FindSignalSql);
        find.Parameters.Add(new NpgsqlParameter { Value = jobId });
        find.Parameters.Add(new NpgsqlParameter { Value = eventName });
        find.Parameters.Add(new NpgsqlParameter { Value = idempotencyKey });
        find.Parameters.Add(new NpgsqlParameter { Value = (object?)payloadJson ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var existing = await find.ExecuteReaderAsync(cancellationToken);
        return await existing.ReadAsync(cancellationToken)
            ? new AddedSignal(existing.Field<Guid>("id"), existing.Field<DateTimeOffset>("received_at"), Duplicate: true, OtherBody: !existing.Field<bool>("same_body"))
            : null;
    }

    /// <summary>Resume: queues the job when it waits for <paramref name="eventName"/> and a signal of it is untaken; null otherwise.</summary>
    internal async Task<JobDispatch?> ResumeOnSignalAsync(Guid jobId, string eventName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ResumeSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = eventName });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new JobDispatch(jobId, reader.Field<int>("priority")) : null;
    }

    /// <summary>Takes a signal of <paramref name="eventName"/> for the step <paramref name="stepKey"/> (see <see cref="TakeSignalSql"/>); null when there is none.</summary>
    public async Task<LlmWorkflow.Engine.Execution.RunSignal?> TakeSignalAsync(Guid jobId, string eventName, string stepKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(TakeSignalSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = eventName });
        command.Parameters.Add(new NpgsqlParameter { Value = stepKey });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new LlmWorkflow.Engine.Execution.RunSignal(reader.FieldOrNull<string>("payload") is { } json ? System.Text.Json.Nodes.JsonNode.Parse(json) : null)
            : null;
    }

    /// <summary>The job's inbox, oldest first.</summary>
    public async Task<IReadOnlyList<StoredSignal>> ListSignalsAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListSignalsSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var signals = new List<StoredSignal>();
        while (await reader.ReadAsync(cancellationToken))
        {
            signals.Add(new StoredSignal(reader.Field<Guid>("id"), reader.Field<string>("event"), reader.Field<DateTimeOffset>("received_at"),
                reader.FieldOrNull<string>("idempotency_key"), reader.FieldOrNull<string>("taken_by_step"), reader.FieldOrNull<DateTimeOffset?>("taken_at"),
                reader.FieldOrNull<DateTimeOffset?>("superseded_at")));
        }

        return signals;
    }

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
            var dispatch = JobDispatch.ContinuingTrace(reader.Field<Guid>("id"), reader.Field<int>("priority"), reader.FieldOrNull<string>("trace_id"));
            woken.Add(new MarkedDispatch(dispatch, reader.Field<DateTimeOffset>("waiting_since")));
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

    /// <summary>How many jobs are scheduled and how many are waiting, over every tenant (the parked-jobs gauge).</summary>
    public async Task<(long Scheduled, long Waiting)> CountParkedAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CountParkedSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.Field<long>("scheduled"), reader.Field<long>("waiting"));
    }

    /// <summary>Reschedule: moves a scheduled job's due time; false when the job is not scheduled (any more).</summary>
    public async Task<bool> RescheduleAsync(Guid jobId, DateTimeOffset runAt, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RescheduleSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = runAt });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>The wait a job was parked on (the Park statement's <c>wait_data</c>), or null.</summary>
    public static RunWait? ReadWait(string? waitData)
    {
        if (waitData is null || JsonNode.Parse(waitData) is not JsonObject wait)
        {
            return null;
        }

        return new RunWait((string)wait["step_id"]!, (string)wait["step_key"]!, (string)wait["kind"]!,
            DateTimeOffset.Parse((string)wait["until"]!, System.Globalization.CultureInfo.InvariantCulture), (string?)wait["event"],
            wait["approval"] as JsonObject, wait["budget"] as JsonObject, wait["batch"] as JsonObject,
            wait["pending"] is JsonArray pending ? [.. pending.Select(entry => ReadWait(entry!.ToJsonString())!)] : null);
    }
}

/// <summary>A signal put in a job's inbox, or the one an idempotency key already put there (<paramref name="OtherBody"/>: with a body other than this request's).</summary>
public sealed record AddedSignal(Guid Id, DateTimeOffset ReceivedAt, bool Duplicate, bool OtherBody = false);

/// <summary>A signal in a job's inbox: taken (by which step, when; superseded when a rerun ran that step again) or still waiting for a step.</summary>
public sealed record StoredSignal(Guid Id, string Event, DateTimeOffset ReceivedAt, string? IdempotencyKey, string? TakenByStep, DateTimeOffset? TakenAt,
    DateTimeOffset? SupersededAt = null);
