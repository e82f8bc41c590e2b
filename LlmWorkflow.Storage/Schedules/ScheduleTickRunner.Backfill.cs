using LlmWorkflow.Storage.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>What a backfill did: the ticks it started (with their jobs) and those an earlier run had already started.</summary>
public sealed record BackfillResult(IReadOnlyList<ScheduleTick> Started, IReadOnlyList<DateTimeOffset> AlreadyStarted);

/// <summary>
/// Backfill (Temporal's): every tick of the schedule's cron in a past range, within its window, that no earlier
/// decision started gets its job now, as a tick's job (action <c>schedule.backfill</c>). Exactly once per tick: the
/// schedule's row lock orders it with the tickers and with other backfills, a tick recorded started is left alone,
/// and a tick recorded skipped (missed, overlap, paused) is recorded started with its new job; a buffered tick is left
/// to start when the schedule's previous job ends (buffer_one).
/// </summary>
public sealed partial class ScheduleTickRunner
{
    /// <summary>The most ticks one backfill may start.</summary>
    public const int MaxBackfillTicks = 1000;

    // $1 schedule id.
    private static readonly string LockScheduleSql = $"SELECT {ScheduleStore.Columns} FROM llm_schedules WHERE id = $1 FOR UPDATE";

    // $1 schedule id, $2 from, $3 to.
    private const string StartedTicksSql = """
        SELECT tick_at FROM llm_schedule_ticks WHERE schedule_id = $1 AND tick_at BETWEEN $2 AND $3 AND outcome IN ('started', 'buffered')
        """;

    // One array per column, as RecordTicksSql; a skipped tick becomes started with the backfill's job.
    private const string RecordBackfilledTicksSql = """
        INSERT INTO llm_schedule_ticks (schedule_id, tick_at, outcome, reason, job_id, tick_count, recorded_at)
        SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[], $6::int[], $7::timestamptz[])
        ON CONFLICT (schedule_id, tick_at) DO UPDATE
           SET outcome = EXCLUDED.outcome, reason = NULL, job_id = EXCLUDED.job_id, tick_count = 1, recorded_at = EXCLUDED.recorded_at
         WHERE llm_schedule_ticks.outcome = 'skipped'
        """;

    /// <summary>
    /// The ticks of [<paramref name="from"/>, <paramref name="to"/>] (at most <see cref="MaxBackfillTicks"/>, the
    /// caller checks) not started yet, each started as a job now; null when the schedule is gone.
    /// </summary>
    public async Task<BackfillResult?> BackfillAsync(Guid scheduleId, IReadOnlyList<DateTimeOffset> ticksInRange, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        Schedule? schedule;
        await using (var lockRow = new NpgsqlCommand(LockScheduleSql, connection, transaction) { Parameters = { new NpgsqlParameter { Value = scheduleId } } })
        {
            schedule = (await ScheduleStore.ReadAsync(lockRow, cancellationToken)).FirstOrDefault();
        }

        if (schedule is null)
        {
            return null;
        }

        var alreadyStarted = ticksInRange.Count == 0 ? [] : await StartedTicksAsync(transaction, scheduleId, ticksInRange[0], ticksInRange[^1], cancellationToken);
        var started = new List<WorkflowJobTick>();
        foreach (var tick in ticksInRange.Where(t => !alreadyStarted.Contains(t)))
        {
            var job = NewJob(schedule, tick, now);
            job.Action = "schedule.backfill";
            if (TakeConcurrencyKey(job, schedule))
            {
                started.Add(new WorkflowJobTick(job, new ScheduleTick(schedule.Id, tick, ScheduleTick.Started, null, job.Id, 1, now)));
            }
        }

        if (started.Count > 0)
        {
            if (versions.Current(schedule.WorkflowName) is { } version)
            {
                await versions.EnsureStoredAsync(version, cancellationToken);
                started.ForEach(s => s.Job.DefinitionHash = version.Hash);
            }

            await jobs.SubmitAsync([.. started.Select(s => s.Job)], transaction, cancellationToken);
            await RecordTicksAsync(transaction, [.. started.Select(s => s.Tick)], cancellationToken, RecordBackfilledTicksSql);
        }

        await transaction.CommitAsync(cancellationToken);
        await DispatchAsync([.. started.Select(s => s.Job)]);
        return new BackfillResult([.. started.Select(s => s.Tick)], [.. alreadyStarted.Order()]);
    }

    private static async Task<HashSet<DateTimeOffset>> StartedTicksAsync(
        NpgsqlTransaction transaction, Guid scheduleId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(StartedTicksSql, transaction.Connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = scheduleId });
        command.Parameters.Add(new NpgsqlParameter { Value = from, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = to, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        var ticks = new HashSet<DateTimeOffset>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ticks.Add(reader.Field<DateTimeOffset>("tick_at"));
        }

        return ticks;
    }

    private sealed record WorkflowJobTick(WorkflowJob Job, ScheduleTick Tick);
}
